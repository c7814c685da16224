package sm

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// Engine is the one Pebble database of a storenode, shared by every store
// replica on it. Each replica's keys live under its own prefix (replicaSpan);
// nothing outside this package sees the prefix. See DESIGN.md (One engine).
type Engine struct {
	db    *pebble.DB
	cache *pebble.Cache
	dir   string

	// recovered counts the replicas' recoveries from a Raft snapshot that
	// completed since the engine opened (snapshot.go).
	recovered atomic.Uint64
}

// SnapshotsRecovered returns how many store replicas on this engine
// replaced their range with a Raft snapshot's content, to the end, since
// the engine opened (a follower too far behind its leader's log).
func (e *Engine) SnapshotsRecovered() uint64 { return e.recovered.Load() }

// EngineOptions bound what the engine holds in memory and in open files,
// independently of how many stores it holds.
type EngineOptions struct {
	// CacheBytes is the block cache, shared by every store (default 64 MiB).
	CacheBytes int64
	// MemTableBytes is the size of one memtable (default 16 MiB); at most
	// 4 exist at once before writes wait for a flush.
	MemTableBytes int
	// MaxOpenFiles bounds the table files kept open (default 500).
	MaxOpenFiles int
}

func (o EngineOptions) withDefaults() EngineOptions {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
	if o.MemTableBytes <= 0 {
		o.MemTableBytes = 16 << 20
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = 500
	}
	return o
}

// OpenEngine opens (or creates) the shared engine in dir.
func OpenEngine(dir string, o EngineOptions) (*Engine, error) {
	o = o.withDefaults()
	cache := pebble.NewCache(o.CacheBytes)
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		MaxOpenFiles:                o.MaxOpenFiles,
	}
	// Bloom filters on every level: most point lookups of an append or a
	// restore (event id, revision, stream) find nothing, and a filter
	// answers those without reading a block. This Pebble consults filters
	// only in SeekPrefixGE (Get seeks every level), which needs the
	// comparer's Split: engineComparer, with lookups by seekExact.
	opts.Comparer = engineComparer
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("sm: open engine %s: %w", dir, err)
	}
	return &Engine{db: db, cache: cache, dir: dir}, nil
}

// Close closes the engine; every state machine on it must be closed first.
func (e *Engine) Close() error {
	err := e.db.Close()
	e.cache.Unref()
	if err != nil {
		return fmt.Errorf("sm: close engine: %w", err)
	}
	return nil
}

// DiskBytes returns the space the whole engine takes on disk.
func (e *Engine) DiskBytes() uint64 { return e.db.Metrics().DiskSpaceUsage() }

// syncWAL makes every write committed so far durable: one fsync of the
// write-ahead log, however many stores wrote.
func (e *Engine) syncWAL() error {
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sm: sync engine: %w", err)
	}
	return nil
}

// RemoveReplica deletes every key of one store replica (the range tombstone
// is fsynced) and compacts its range so that the space is freed; no other
// replica's key is touched.
func (e *Engine) RemoveReplica(shardID, replicaID uint64) error {
	sp := replicaSpan(shardID, replicaID)
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(sp.lo, sp.hi, nil); err != nil {
		return fmt.Errorf("sm: remove replica %d/%d: %w", shardID, replicaID, err)
	}
	if err := b.Delete(dormantKey(shardID, replicaID), nil); err != nil {
		return fmt.Errorf("sm: remove replica %d/%d: %w", shardID, replicaID, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("sm: remove replica %d/%d: %w", shardID, replicaID, err)
	}
	if err := e.db.Compact(sp.lo, sp.hi, false); err != nil {
		return fmt.Errorf("sm: compact removed replica %d/%d: %w", shardID, replicaID, err)
	}
	return nil
}

// span is one replica's key range in the engine: [lo, hi).
type span struct{ lo, hi []byte }

// spanTag starts every replica key; other first bytes are free for keys of
// the engine itself.
const spanTag = 0x01

// replicaSpan is the key range of one store replica: spanTag, the shard id
// and the replica id, each 8 bytes big-endian (fixed width, so no prefix is
// a prefix of another).
func replicaSpan(shardID, replicaID uint64) span {
	lo := make([]byte, 0, 17)
	lo = append(lo, spanTag)
	lo = binary.BigEndian.AppendUint64(lo, shardID)
	lo = binary.BigEndian.AppendUint64(lo, replicaID)
	return span{lo: lo, hi: prefixEnd(lo)}
}

// key returns the engine key of a store key, appended to buf[:0].
func (s span) key(buf, k []byte) []byte {
	return append(append(buf[:0], s.lo...), k...)
}

// ReplicaKeys counts the keys one replica holds in the engine (a check for
// tools and tests: it reads the whole range).
func (e *Engine) ReplicaKeys(shardID, replicaID uint64) (int, error) {
	sp := replicaSpan(shardID, replicaID)
	it := e.db.NewIter(&pebble.IterOptions{LowerBound: sp.lo, UpperBound: sp.hi})
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("sm: count keys: %w", err)
	}
	return n, nil
}

// Shards lists the shards that have keys in the engine, in order (a check
// for tools and tests: one seek per shard).
func (e *Engine) Shards() ([]uint64, error) {
	it := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{spanTag}, UpperBound: []byte{spanTag + 1}})
	var out []uint64
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 9 {
			ok = it.Next()
			continue
		}
		shard := binary.BigEndian.Uint64(k[1:9])
		out = append(out, shard)
		if shard == ^uint64(0) {
			break
		}
		ok = it.SeekGE(binary.BigEndian.AppendUint64([]byte{spanTag}, shard+1))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("sm: list shards: %w", err)
	}
	return out, nil
}

// ReplicaDigest summarises one replica's keys in the engine, for checks by
// tools and tests (it reads the whole range): replicas of a store that
// applied the same entries have the same digest. Applied is the replica's
// applied index, left out of Sum: a replica that applied a few more
// entries carrying no command (a new leader's first entry) differs only
// there.
type ReplicaDigest struct {
	Keys    int      // the keys in the range, the applied index's included
	Applied uint64   // the applied index stored in the range (0: none)
	Sum     [32]byte // SHA-256 of every other store key and value, in order
}

// Digest returns the digest of one replica's range.
func (e *Engine) Digest(shardID, replicaID uint64) (ReplicaDigest, error) {
	sp := replicaSpan(shardID, replicaID)
	it := newKVIter(sp, nil, e.db.NewIter)
	h := sha256.New()
	var d ReplicaDigest
	var lenBuf [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		d.Keys++
		k, v := it.Key(), it.Value()
		if string(k) == string(keyApplied) {
			if len(v) == 8 {
				d.Applied = binary.BigEndian.Uint64(v)
			}
			continue
		}
		h.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(k)))])
		h.Write(k)
		h.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(v)))])
		h.Write(v)
	}
	if err := it.Close(); err != nil {
		return ReplicaDigest{}, fmt.Errorf("sm: digest replica %d/%d: %w", shardID, replicaID, err)
	}
	copy(d.Sum[:], h.Sum(nil))
	return d, nil
}

// engineComparer is Pebble's default byte order with Split added: the
// prefix of a key is the whole key, which is what the tables' filters hold
// (written without a Split, they hold whole keys), so SeekPrefixGE can
// consult them. Its name stays the default's: the order is unchanged, and
// engines written before open with it.
var engineComparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = func(k []byte) int { return len(k) }
	return &c
}()

// Package sm is a store's replicated state machine: a dragonboat on-disk
// state machine over the storenode's one Pebble engine, shared by all its
// stores, each under its own key prefix. See DESIGN.md beside this file.
package sm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
)

// StateMachine implements dragonboat's IOnDiskStateMachine for one store.
//
// Update runs on one goroutine at a time; Lookup may run concurrently with it
// and reads only committed Pebble state, never the fields Update owns.
type StateMachine struct {
	eng    *Engine
	sp     span   // the replica's key range in the engine
	legacy string // the store's own directory of data-directory format 1, migrated at Open
	limits wire.Limits

	// mu: Lookup and Update hold it for reading; RecoverFromSnapshot, Open
	// and Close for writing, as they replace or drop the range's content.
	mu     sync.RWMutex
	opened bool
	// halfRecovered: a RecoverFromSnapshot failed after it began replacing
	// the range; nothing is read or applied until Open drops the range.
	halfRecovered bool

	// Owned by Update.
	head  head
	usage usage     // stored bytes (quota.go)
	quota Quota     // the store's quota (quota.go)
	metas metaCache // metadata of recent streams (metacache.go)

	// onApply, if set, is called after every Update has committed, with the
	// next position to be assigned; it must not block.
	onApply func(nextPosition uint64)

	// applied is the last Raft index applied (read by Applied at any time).
	applied atomic.Uint64
	// events is the number of events stored: the next position (read by
	// Events at any time).
	events atomic.Uint64
	// bytes, maxEvents, maxBytes: the stored bytes and the quota (read
	// by Usage at any time).
	bytes, maxEvents, maxBytes atomic.Uint64
	// quotaSet: OpSetQuota was ever applied (QuotaSet).
	quotaSet atomic.Bool
	// restoring: a restore is in progress (restore.go); set by Open,
	// Update and RecoverFromSnapshot, read by Lookup.
	restoring atomic.Bool
	// restored: a restore completed into the store (restore.go).
	restored atomic.Bool

	backupsMu sync.Mutex
	backups   map[*Backup]struct{} // open backups (backup.go), closed with the database

	closeOnce sync.Once
	closed    chan struct{} // closed by Close (Closed)
}

// Restoring reports whether a restore into the store is in progress, as
// this replica has applied it.
func (s *StateMachine) Restoring() bool { return s.restoring.Load() }

// Restored reports whether a restore into the store completed, as this
// replica has applied it.
func (s *StateMachine) Restored() bool { return s.restored.Load() }

// loadRestore reads the restore markers of a database.
func loadRestore(db reader) (restoring, restored bool, err error) {
	if _, restoring, err = get(db, keyRestore); err != nil {
		return false, false, err
	}
	_, restored, err = get(db, keyRestored)
	return restoring, restored, err
}

// Applied returns the index of the last Raft entry the state machine
// applied: what the replica reports about itself (heartbeats), so that the
// cluster view can show how far each replica is.
func (s *StateMachine) Applied() uint64 { return s.applied.Load() }

// Events returns the number of events the store holds as applied here
// (positions start at 0: the next position), deleted streams' included.
func (s *StateMachine) Events() uint64 { return s.events.Load() }

// Usage returns the store's usage and quota as applied here (quota.go).
func (s *StateMachine) Usage() Usage {
	return Usage{Events: s.events.Load(), Bytes: s.bytes.Load(),
		Quota: Quota{MaxEvents: s.maxEvents.Load(), MaxBytes: s.maxBytes.Load()}}
}

// QuotaSet reports whether the store's quota was ever set by OpSetQuota
// (possibly to none), as applied here: the node serves no append of a
// store the registry gives a quota until it is.
func (s *StateMachine) QuotaSet() bool { return s.quotaSet.Load() }

// publishUsage makes the usage and quota Update owns readable by Usage.
func (s *StateMachine) publishUsage() {
	s.bytes.Store(s.usage.Bytes)
	s.maxEvents.Store(s.quota.MaxEvents)
	s.maxBytes.Store(s.quota.MaxBytes)
}

// DiskBytes returns the space the store's database takes on disk (0 while
// it is not open).
func (s *StateMachine) DiskBytes() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.opened {
		return 0
	}
	n, err := s.eng.db.EstimateDiskUsage(s.sp.lo, s.sp.hi)
	if err != nil {
		return 0
	}
	return n
}

// OnApply sets a callback run after each applied batch of entries (before
// Open). The node uses it to wake the tasks that follow the store's head on
// its leader, such as live event publication.
func (s *StateMachine) OnApply(fn func(nextPosition uint64)) { s.onApply = fn }

// New returns the state machine of one store replica, whose keys live in
// eng under the prefix of shardID and replicaID. legacyDir is where the
// store's own Pebble database was kept before the engine was shared
// (stores/<id>): if it exists, Open migrates it (legacy.go); "" for none.
func New(eng *Engine, shardID, replicaID uint64, legacyDir string, limits wire.Limits) *StateMachine {
	return &StateMachine{eng: eng, sp: replicaSpan(shardID, replicaID), legacy: legacyDir, limits: limits.WithDefaults(),
		closed: make(chan struct{})}
}

// Closed returns a channel closed once dragonboat has closed the state
// machine: no Update of it runs any more, so another instance of the same
// replica may open its range.
func (s *StateMachine) Closed() <-chan struct{} { return s.closed }

// Busy reports whether the replica holds state that dies with it: an open
// backup, or a restore in progress.
func (s *StateMachine) Busy() bool {
	s.backupsMu.Lock()
	open := len(s.backups) > 0
	s.backupsMu.Unlock()
	return open || s.restoring.Load()
}

// snapshot pins a consistent view of the replica's keys.
func (s *StateMachine) snapshot() *kvSnap {
	return &kvSnap{s: s.eng.db.NewSnapshot(), sp: s.sp}
}

var _ dbsm.IOnDiskStateMachine = (*StateMachine)(nil)

// Open opens the database and returns the last applied index, which
// dragonboat uses to replay only the entries that follow it.
func (s *StateMachine) Open(stopc <-chan struct{}) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.migrateLegacy(); err != nil {
		return 0, err
	}
	if err := s.dropInterruptedRecovery(); err != nil {
		return 0, err
	}
	snap := s.snapshot()
	defer snap.Close()
	applied, h, err := loadState(snap)
	if err != nil {
		return 0, err
	}
	restoring, restored, err := loadRestore(snap)
	if err != nil {
		return 0, err
	}
	if err := s.loadUsage(snap, h); err != nil {
		return 0, err
	}
	s.opened, s.head, s.halfRecovered = true, h, false
	s.metas.reset()
	s.applied.Store(applied)
	s.events.Store(h.NextPosition)
	s.restoring.Store(restoring)
	s.restored.Store(restored)
	return applied, nil
}

func loadState(db reader) (uint64, head, error) {
	var h head
	if v, ok, err := get(db, keyFormat); err != nil {
		return 0, h, err
	} else if ok && (len(v) != 8 || binary.BigEndian.Uint64(v) != formatVersion) {
		return 0, h, fmt.Errorf("sm: on-disk format %x is not supported (this build reads %d)", v, formatVersion)
	}
	var applied uint64
	if v, ok, err := get(db, keyApplied); err != nil {
		return 0, h, err
	} else if ok {
		if len(v) != 8 {
			return 0, h, fmt.Errorf("sm: corrupt applied index")
		}
		applied = binary.BigEndian.Uint64(v)
	}
	if v, ok, err := get(db, keyHead); err != nil {
		return 0, h, err
	} else if ok {
		if err := decode(v, &h); err != nil {
			return 0, h, err
		}
	}
	return applied, h, nil
}

// reader is what kvSnap and kvBatch offer.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// get returns a copy of the value at key.
func get(r reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sm: get: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// Update applies committed entries. All of them are written in one Pebble
// batch together with the new applied index, so the database is always at
// exactly one applied index: a crash either keeps the whole batch or none.
// The batch is not fsynced: the Raft log is, and dragonboat replays entries
// after the applied index found at Open.
func (s *StateMachine) Update(entries []dbsm.Entry) ([]dbsm.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.halfRecovered {
		return nil, errHalfRecovered
	}
	pb := s.eng.db.NewIndexedBatch()
	defer pb.Close()
	b := &kvBatch{b: pb, sp: s.sp}
	a := applier{b: b, head: s.head, usage: s.usage, quota: s.quota, quotaSet: s.quotaSet.Load(), metas: &s.metas, restoring: s.restoring.Load()}
	for i := range entries {
		results := a.applyEntry(entries[i].Cmd)
		if a.fatal != nil {
			return nil, fmt.Errorf("sm: apply entry %d: %w", entries[i].Index, a.fatal)
		}
		entries[i].Result = dbsm.Result{Value: uint64(len(results)), Data: EncodeResults(results)}
	}
	if len(entries) > 0 {
		if err := b.Set(keyApplied, u64(entries[len(entries)-1].Index), nil); err != nil {
			return nil, fmt.Errorf("sm: set applied: %w", err)
		}
	}
	if err := b.Set(keyHead, encode(&a.head), nil); err != nil {
		return nil, fmt.Errorf("sm: set head: %w", err)
	}
	a.usage.Position = a.head.NextPosition
	if err := b.Set(keyUsage, encode(&a.usage), nil); err != nil {
		return nil, fmt.Errorf("sm: set usage: %w", err)
	}
	if err := b.Set(keyFormat, u64(formatVersion), nil); err != nil {
		return nil, fmt.Errorf("sm: set format: %w", err)
	}
	if err := pb.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("sm: commit: %w", err)
	}
	s.head = a.head
	s.usage, s.quota = a.usage, a.quota
	s.quotaSet.Store(a.quotaSet)
	s.publishUsage()
	s.metas.commit(a.pending)
	s.events.Store(a.head.NextPosition)
	s.restoring.Store(a.restoring)
	if a.restored {
		s.restored.Store(true)
	}
	if len(entries) > 0 {
		s.applied.Store(entries[len(entries)-1].Index)
	}
	if s.onApply != nil {
		s.onApply(s.head.NextPosition)
	}
	return entries, nil
}

// Sync makes everything applied so far durable in the engine: dragonboat
// calls it before it compacts the Raft log, so the log is never compacted
// past what the engine has made durable. Updates commit to the engine's
// write-ahead log without fsync; one fsync of that log makes them durable,
// for every store at once.
func (s *StateMachine) Sync() error {
	return s.eng.syncWAL()
}

// Close closes the replica's state machine; the shared engine stays open
// (its owner, the node, closes it after Raft).
func (s *StateMachine) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.closeOnce.Do(func() { close(s.closed) })
	if !s.opened {
		return nil
	}
	s.closeBackups()
	s.opened = false
	return nil
}

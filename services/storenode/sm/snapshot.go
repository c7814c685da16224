package sm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// Snapshots stream every key of the database as length-prefixed pairs:
//
//	magic "LBS1" { uvarint(len k) k uvarint(len v) v }* uvarint(0)
//
// dragonboat sends them only to replicas that fell too far behind the log.
var snapshotMagic = []byte("LBS1")

// PrepareSnapshot pins a consistent view of the database.
func (s *StateMachine) PrepareSnapshot() (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.NewSnapshot(), nil
}

// SaveSnapshot writes the pinned view to w.
func (s *StateMachine) SaveSnapshot(ctx any, w io.Writer, stopc <-chan struct{}) error {
	snap := ctx.(*pebble.Snapshot)
	defer snap.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(snapshotMagic); err != nil {
		return fmt.Errorf("sm: save snapshot: %w", err)
	}
	it := snap.NewIter(nil)
	defer it.Close()
	var lenBuf [binary.MaxVarintLen64]byte
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 {
			select {
			case <-stopc:
				return dbsm.ErrSnapshotStopped
			default:
			}
		}
		k, v := it.Key(), it.Value()
		bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(k))+1)])
		bw.Write(k)
		bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(v)))])
		if _, err := bw.Write(v); err != nil {
			return fmt.Errorf("sm: save snapshot: %w", err)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("sm: save snapshot: %w", err)
	}
	bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], 0)])
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sm: save snapshot: %w", err)
	}
	return nil
}

// RecoverFromSnapshot replaces the database with the snapshot's content. It
// loads into a fresh directory and switches to it atomically, so a crash half
// way leaves the old database in place.
func (s *StateMachine) RecoverFromSnapshot(r io.Reader, stopc <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != string(snapshotMagic) {
		return fmt.Errorf("sm: recover: not a Logbook snapshot")
	}
	db, name, err := s.dir.create()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		db.Close()
		s.dir.remove(name)
		return err
	}
	b := db.NewBatch()
	for n := 0; ; n++ {
		if n%4096 == 0 {
			select {
			case <-stopc:
				b.Close()
				return fail(dbsm.ErrSnapshotStopped)
			default:
			}
		}
		kl, err := binary.ReadUvarint(br)
		if err != nil {
			b.Close()
			return fail(fmt.Errorf("sm: recover: %w", err))
		}
		if kl == 0 {
			break
		}
		k := make([]byte, kl-1)
		if _, err := io.ReadFull(br, k); err != nil {
			b.Close()
			return fail(fmt.Errorf("sm: recover: %w", err))
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil {
			b.Close()
			return fail(fmt.Errorf("sm: recover: %w", err))
		}
		v := make([]byte, vl)
		if _, err := io.ReadFull(br, v); err != nil {
			b.Close()
			return fail(fmt.Errorf("sm: recover: %w", err))
		}
		b.Set(k, v, nil)
		if b.Len() > 32<<20 {
			err := b.Commit(pebble.NoSync)
			b.Close()
			if err != nil {
				return fail(fmt.Errorf("sm: recover: %w", err))
			}
			b = db.NewBatch()
		}
	}
	err = b.Commit(pebble.Sync)
	b.Close()
	if err != nil {
		return fail(fmt.Errorf("sm: recover: %w", err))
	}
	applied, h, err := loadState(db)
	if err != nil {
		return fail(err)
	}
	restoring, restored, err := loadRestore(db)
	if err != nil {
		return fail(err)
	}
	u, q, qset, err := loadUsage(db, h)
	if err != nil {
		return fail(err)
	}
	s.mu.Lock()
	s.closeBackups()
	old := s.db
	oldName := s.dir.current
	if err := s.dir.switchTo(name); err != nil {
		s.mu.Unlock()
		return fail(err)
	}
	s.db, s.head = db, h
	s.usage, s.quota = u, q
	s.quotaSet.Store(qset)
	s.publishUsage()
	s.metas.reset()
	s.applied.Store(applied)
	s.events.Store(h.NextPosition)
	s.restoring.Store(restoring)
	s.restored.Store(restored)
	s.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil && !errors.Is(err, pebble.ErrClosed) {
			return fmt.Errorf("sm: close replaced database: %w", err)
		}
	}
	s.dir.remove(oldName)
	return nil
}

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

// keyRecovering marks a replica's range while RecoverFromSnapshot replaces
// it: a range that has it at Open is half replaced and is dropped whole.
var keyRecovering = []byte("\x00recovering")

// PrepareSnapshot pins a consistent view of the replica's keys.
func (s *StateMachine) PrepareSnapshot() (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshot(), nil
}

// SaveSnapshot writes the pinned view to w: the store keys, without the
// engine prefix, so a snapshot is the same whatever the replica it comes
// from or goes to.
func (s *StateMachine) SaveSnapshot(ctx any, w io.Writer, stopc <-chan struct{}) error {
	snap := ctx.(*kvSnap)
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

// RecoverFromSnapshot replaces the replica's range with the snapshot's
// content, leaving every other range alone. The first batch deletes the
// range and sets keyRecovering; the snapshot's keys follow in batches; the
// last batch deletes the marker and is fsynced. A crash half way leaves the
// marker, and Open then drops the range and reports applied index 0, so
// dragonboat recovers from its snapshot again.
func (s *StateMachine) RecoverFromSnapshot(r io.Reader, stopc <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != string(snapshotMagic) {
		return fmt.Errorf("sm: recover: not a Logbook snapshot")
	}
	// Readers wait for the whole replacement: they never see half of it.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeBackups()
	// From the first batch on the range is no longer the old state: until
	// the last batch commits, a failure leaves the replica unusable (Open
	// drops the range, and dragonboat recovers again).
	s.halfRecovered = true
	db := s.eng.db
	b := &kvBatch{b: db.NewBatch(), sp: s.sp}
	defer func() { b.b.Close() }()
	if err := b.b.DeleteRange(s.sp.lo, s.sp.hi, nil); err != nil {
		return fmt.Errorf("sm: recover: %w", err)
	}
	b.Set(keyRecovering, nil, nil)
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("sm: recover: %w", err)
	}
	b.b.Close()
	b.b = db.NewBatch()
	for n := 0; ; n++ {
		if n%4096 == 0 {
			select {
			case <-stopc:
				return dbsm.ErrSnapshotStopped
			default:
			}
		}
		kl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("sm: recover: %w", err)
		}
		if kl == 0 {
			break
		}
		k := make([]byte, kl-1)
		if _, err := io.ReadFull(br, k); err != nil {
			return fmt.Errorf("sm: recover: %w", err)
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("sm: recover: %w", err)
		}
		v := make([]byte, vl)
		if _, err := io.ReadFull(br, v); err != nil {
			return fmt.Errorf("sm: recover: %w", err)
		}
		b.Set(k, v, nil)
		if n+1 == recoverMidwayKeys && failpoint == "recover-midway" {
			// Part of the keys reach the engine (the applied index among
			// them), as a crash between two batches would leave them.
			if err := b.b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("sm: recover: %w", err)
			}
			crashAt("recover-midway")
		}
		if b.b.Len() > 32<<20 {
			if err := b.b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("sm: recover: %w", err)
			}
			b.b.Close()
			b.b = db.NewBatch()
		}
	}
	b.Delete(keyRecovering, nil)
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("sm: recover: %w", err)
	}
	snap := s.snapshot()
	defer snap.Close()
	applied, h, err := loadState(snap)
	if err != nil {
		return err
	}
	restoring, restored, err := loadRestore(snap)
	if err != nil {
		return err
	}
	if err := s.loadUsage(snap, h); err != nil {
		return err
	}
	s.opened, s.head, s.halfRecovered = true, h, false
	s.metas.reset()
	s.applied.Store(applied)
	s.events.Store(h.NextPosition)
	s.restoring.Store(restoring)
	s.restored.Store(restored)
	s.eng.recovered.Add(1)
	return nil
}

var errHalfRecovered = errors.New("sm: a recovery from a snapshot failed half way: the replica must be reopened")

// dropInterruptedRecovery empties the range of a replica whose recovery
// from a snapshot was interrupted (keyRecovering is there): Open then
// reports applied index 0 and dragonboat recovers from the snapshot again.
func (s *StateMachine) dropInterruptedRecovery() error {
	snap := s.snapshot()
	_, half, err := get(snap, keyRecovering)
	snap.Close()
	if err != nil || !half {
		return err
	}
	b := s.eng.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(s.sp.lo, s.sp.hi, nil); err != nil {
		return fmt.Errorf("sm: drop an interrupted recovery: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("sm: drop an interrupted recovery: %w", err)
	}
	return nil
}

package sm

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Backups: a consistent, logical dump of the store (schemas/backup.md),
// read from one Pebble snapshot taken in Lookup (after the leader's read
// index, so it holds every acknowledged write) and handed out chunk by chunk.
// The dump speaks the backup records of pkg/wire, which are a versioned
// contract of their own (wire.BackupFormat): the state machine is where the
// keys are, so the conversion lives here.
//
// A Backup pins its snapshot until Close. The state machine closes every
// open Backup before it closes or replaces its database, so a pinned
// snapshot never outlives the database it reads.

// BackupOpen opens a backup of the store as it is now. Taken is the time to
// record in the header (Unix ns). Answer: *Backup; the caller must Close it.
type BackupOpen struct {
	Taken         int64
	ServerVersion string
}

// The sections of a backup, in the order they are dumped: each is one key
// range of the database.
var backupSections = []struct {
	lo, hi []byte
}{
	{[]byte{prefixEvent}, []byte{prefixEvent + 1}},
	{[]byte{prefixStream}, []byte{prefixStream + 1}},
	{[]byte{prefixSnapshot}, []byte{prefixSnapshot + 1}},
	{[]byte{prefixPSub, 1}, []byte{prefixPSub, 2}},
	{[]byte{prefixPSub, 2}, []byte{prefixPSub, 3}},
}

// Backup is an open backup: a pinned snapshot and where the dump is in it.
// Its methods may be called from any goroutine, one at a time.
type Backup struct {
	// Header describes the backup: the position it is consistent to.
	Header wire.BackupHeader

	owner *StateMachine
	mu    sync.Mutex
	snap  *kvSnap
	it    *kvIter
	sect  int // index in backupSections of it
	done  bool
	// counts counts the records handed out.
	counts wire.BackupCounts
	// pending is a snapshot body read before its header.
	pending *snapshotBodyRecord
}

func (s *StateMachine) openBackup(q BackupOpen) (*Backup, error) {
	snap := s.snapshot()
	v := view{snap: snap}
	h, err := v.head()
	if err != nil {
		snap.Close()
		return nil, err
	}
	var gen uint64
	if b, ok, err := get(snap, keyPSubSeq); err != nil {
		snap.Close()
		return nil, err
	} else if ok {
		gen = decodeU64(b)
	}
	b := &Backup{
		Header: wire.BackupHeader{
			Format: wire.BackupFormat, Position: h.NextPosition, LastTimestamp: h.LastTimestamp,
			SubscriptionGeneration: gen, Taken: q.Taken, ServerVersion: q.ServerVersion,
		},
		owner: s, snap: snap, sect: -1,
	}
	s.backupsMu.Lock()
	if s.backups == nil {
		s.backups = map[*Backup]struct{}{}
	}
	s.backups[b] = struct{}{}
	s.backupsMu.Unlock()
	return b, nil
}

// closeBackups closes every open backup; the caller holds s.mu for writing
// and is about to close or replace the database.
func (s *StateMachine) closeBackups() {
	s.backupsMu.Lock()
	bs := s.backups
	s.backups = nil
	s.backupsMu.Unlock()
	for b := range bs {
		b.release()
	}
}

// Close releases the backup's snapshot; Next fails afterwards.
func (b *Backup) Close() {
	b.owner.backupsMu.Lock()
	delete(b.owner.backups, b)
	b.owner.backupsMu.Unlock()
	b.release()
}

func (b *Backup) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.it != nil {
		b.it.Close()
		b.it = nil
	}
	if b.snap != nil {
		b.snap.Close()
		b.snap = nil
	}
}

// errBackupClosed is Next on a backup whose snapshot is gone.
var errBackupClosed = codes.New(codes.BackupSessionNotFound, "the backup was closed (the store's replica stopped or was replaced): start the backup again")

// Counts returns how many records Next has handed out, by kind.
func (b *Backup) Counts() wire.BackupCounts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts
}

// Next returns the next chunk: records up to about maxBytes (at least one
// record when any is left), and done once the dump is complete.
func (b *Backup) Next(maxBytes int) (wire.BackupChunk, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, done, err := b.next(maxBytes)
	if err == nil {
		b.counts.Add(&c)
	}
	return c, done, err
}

func (b *Backup) next(maxBytes int) (wire.BackupChunk, bool, error) {
	var c wire.BackupChunk
	if b.done {
		return c, true, nil
	}
	if b.snap == nil {
		return c, false, errBackupClosed
	}
	size := 0
	for size < maxBytes {
		if b.it == nil || !b.it.Valid() {
			if b.it != nil {
				if err := b.it.Error(); err != nil {
					return c, false, fmt.Errorf("sm: backup: %w", err)
				}
				b.it.Close()
				b.it = nil
			}
			if b.sect++; b.sect == len(backupSections) {
				b.done = true
				return c, true, nil
			}
			sec := backupSections[b.sect]
			it := b.snap.NewIter(&pebble.IterOptions{LowerBound: sec.lo, UpperBound: sec.hi})
			b.it = it
			it.First()
			continue
		}
		n, err := b.record(&c, b.it.Key(), b.it.Value())
		if err != nil {
			return c, false, err
		}
		size += n
		b.it.Next()
	}
	return c, false, nil
}

// record appends the record of one key to c and returns its approximate size.
func (b *Backup) record(c *wire.BackupChunk, k, v []byte) (int, error) {
	switch b.sect {
	case 0:
		var r eventRecord
		if err := decode(v, &r); err != nil {
			return 0, err
		}
		c.Events = append(c.Events, wire.BackupEvent{
			Position: posFromEventKey(k), ID: uuid.UUID(r.ID).String(), Stream: r.Stream, Type: r.Type,
			Revision: r.Revision, Timestamp: r.Timestamp, Data: nonNil(r.Data), DataContentType: r.DataContentType,
			Metadata: nonNil(r.Metadata), MetadataContentType: r.MetadataContentType,
		})
	case 1:
		var m streamMeta
		if err := decode(v, &m); err != nil {
			return 0, err
		}
		c.Streams = append(c.Streams, wire.BackupStream{
			Stream: string(k[1:]), LastRevision: m.LastRevision, Count: m.Count, FirstPosition: m.FirstPosition,
			LastPosition: m.LastPosition, Created: m.Created, Updated: m.Updated, Deleted: m.Deleted,
		})
	case 2:
		// Each version has its body ('d') then its header ('h').
		version, kind := parseSnapshotKey(k)
		if kind == snapshotBody {
			var body snapshotBodyRecord
			if err := decode(v, &body); err != nil {
				return 0, err
			}
			b.pending = &body
			return len(v), nil
		}
		var h snapshotHeaderRecord
		if err := decode(v, &h); err != nil {
			return 0, err
		}
		if b.pending == nil {
			return 0, errors.New("sm: backup: a snapshot header without its body")
		}
		body := b.pending
		b.pending = nil
		c.Snapshots = append(c.Snapshots, wire.BackupSnapshot{
			Stream: string(k[1 : len(k)-10]), Version: version, Type: h.Type,
			Data: nonNil(body.Data), DataContentType: h.DataContentType,
			Metadata: nonNil(body.Metadata), MetadataContentType: h.MetadataContentType, Created: h.Created,
		})
	case 3:
		var p PSub
		if err := decode(v, &p); err != nil {
			return 0, err
		}
		c.Subscriptions = append(c.Subscriptions, wire.BackupSubscription{
			Name: p.Name, Generation: p.Gen, Stream: p.Stream, StreamPrefix: p.StreamPrefix, Category: p.Category,
			EventTypes: p.EventTypes, Start: p.StartKind, StartPosition: p.StartPosition, MaxInFlight: p.MaxInFlight,
			AckTimeoutMs: p.AckTimeoutMs, MaxRetries: p.MaxRetries, Strategy: p.Strategy, Created: p.Created,
			Updated: p.Updated, Checkpoint: p.Checkpoint, High: p.High, Parked: p.Parked,
		})
	case 4:
		var p PSubPark
		if err := decode(v, &p); err != nil {
			return 0, err
		}
		name := k[2 : len(k)-9]
		c.Parked = append(c.Parked, wire.BackupParked{
			Subscription: string(name), Position: decodeU64(k[len(k)-8:]),
			Reason: p.Reason, DeliveryCount: p.DeliveryCount, Parked: p.Parked,
		})
	}
	return len(k) + len(v) + 64, nil
}

package sm

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Restores: OpRestore writes a backup's records (schemas/backup.md) into an
// empty store, one step per command, in the backup's order. Every step is
// checked against what the store already holds, in the replicated apply, so
// that a restored store is one the state machine could have built itself:
// positions dense from 0, revisions dense per stream, ids unique,
// timestamps non-decreasing, stream states matching their events,
// snapshots only of live streams at reached versions, parked events only of
// restored subscriptions. Positions, revisions, ids and timestamps are
// written as the backup has them.
//
// While a restore is in progress (from step 0 to the step with the counts)
// the marker key \x00restore holds its state, and the store answers every
// other command and query with store_restoring. A step that fails a check
// marks the restore failed (later steps fail too): the client removes the
// store. A completed restore leaves \x00restored, so that a store is never
// restored twice.

var (
	keyRestore  = []byte("\x00restore")
	keyRestored = []byte("\x00restored")
)

// The sections of a restore, in order: a step may not go back to an
// earlier one.
const (
	restoreEvents = iota
	restoreStreams
	restoreSnapshots
	restoreSubs
	restoreParked
)

// RestoreStep is the Aux of OpRestore: one request of a restore, as
// validated by the proposer (wire.DecodeRestore).
type RestoreStep struct {
	_msgpack struct{} `msgpack:",as_array"`
	Seq      int64
	Header   *wire.BackupHeader
	Chunk    *wire.BackupChunk
	Counts   *wire.BackupCounts
}

// RestoreResult is the result of OpRestore.
type RestoreResult struct {
	_msgpack  struct{} `msgpack:",as_array"`
	Seq       int64
	Restored  wire.BackupCounts
	Completed bool
	Duplicate bool
}

// restoreState is the marker of a restore in progress (and, once complete,
// what \x00restored keeps).
type restoreState struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Seq        int64
	Header     wire.BackupHeader
	Counts     wire.BackupCounts
	Section    int
	LastTs     int64  // the last restored event's timestamp
	LastStream string // the last stream, snapshot's stream or subscription restored
	LastNum    uint64 // the last snapshot version or parked position restored
	HasLast    bool   // a record of the current section was restored
	SumCount   uint64 // the sum of the restored streams' event counts
	SumParked  uint64 // the sum of the restored subscriptions' parked counts
	Failed     string // why a step failed: the restore cannot complete
	Started    int64
	Updated    int64 // the last step's time
	Completed  bool
}

// RestoreStatus asks where a restore of the store stands, from this
// replica's applied state. Answer: RestoreInfo.
type RestoreStatus struct{}

// RestoreInfo is where a restore stands.
type RestoreInfo struct {
	InProgress bool   // begun, not complete
	Completed  bool   // a restore completed into this store
	Failed     string // in progress but failed: it cannot complete
	Updated    int64  // the last step's time (Unix ns), while in progress
	Started    int64
}

func (v view) restoreInfo() (RestoreInfo, error) {
	if b, ok, err := get(v.snap, keyRestore); err != nil {
		return RestoreInfo{}, err
	} else if ok {
		var st restoreState
		if err := decode(b, &st); err != nil {
			return RestoreInfo{}, err
		}
		return RestoreInfo{InProgress: true, Failed: st.Failed, Updated: st.Updated, Started: st.Started}, nil
	}
	_, ok, err := get(v.snap, keyRestored)
	return RestoreInfo{Completed: ok}, err
}

// errRestoring answers everything but the restore while one is in progress.
func errRestoring() error {
	return codes.New(codes.StoreRestoring, "the store is being restored: it serves once the restore completes")
}

func (a *applier) restore(c *Command, ts int64) (RestoreResult, error) {
	var step RestoreStep
	if err := decodeAux(c, &step); err != nil {
		return RestoreResult{}, err
	}
	st, inProgress, err := a.restoreMarker(keyRestore)
	if err != nil {
		return RestoreResult{}, err
	}
	if step.Seq == 0 {
		return a.beginRestore(&step, st, inProgress, ts)
	}
	if !inProgress {
		if done, ok, err := a.restoreMarker(keyRestored); err != nil {
			return RestoreResult{}, err
		} else if ok && done.Seq == step.Seq {
			return RestoreResult{Seq: step.Seq, Restored: done.Counts, Completed: true, Duplicate: true}, nil
		}
		return RestoreResult{}, codes.New(codes.InvalidArgument, "no restore is in progress in this store (step %d)", step.Seq)
	}
	if st.Failed != "" {
		return RestoreResult{}, codes.New(codes.InvalidBackup, "the restore failed earlier: %s", st.Failed)
	}
	if step.Seq == st.Seq {
		return RestoreResult{Seq: st.Seq, Restored: st.Counts, Duplicate: true}, nil
	}
	if step.Seq != st.Seq+1 {
		return RestoreResult{}, codes.New(codes.InvalidArgument, "restore step %d does not follow step %d", step.Seq, st.Seq)
	}
	st.Seq, st.Updated = step.Seq, ts
	if step.Chunk != nil {
		err = a.restoreChunk(st, step.Chunk)
	} else if step.Counts != nil {
		err = a.completeRestore(st, step.Counts)
	} else {
		err = codes.New(codes.InvalidArgument, "restore step %d carries neither a chunk nor the counts", step.Seq)
	}
	if err != nil {
		e := codes.As(err)
		if e == nil {
			return RestoreResult{}, err // local: halts the replica
		}
		// Part of the chunk may be in the batch: the restore cannot go on.
		st.Failed = fmt.Sprintf("step %d: %s", step.Seq, e.Message)
		a.b.Set(keyRestore, encode(st), nil)
		return RestoreResult{}, e
	}
	if st.Completed {
		a.b.Delete(keyRestore, nil)
		a.b.Set(keyRestored, encode(st), nil)
		a.restoring, a.restored = false, true
		return RestoreResult{Seq: st.Seq, Restored: st.Counts, Completed: true}, nil
	}
	a.b.Set(keyRestore, encode(st), nil)
	return RestoreResult{Seq: st.Seq, Restored: st.Counts}, nil
}

func (a *applier) restoreMarker(key []byte) (*restoreState, bool, error) {
	b, ok, err := get(a.b, key)
	if err != nil || !ok {
		return nil, false, err
	}
	var st restoreState
	return &st, true, decode(b, &st)
}

func (a *applier) beginRestore(step *RestoreStep, st *restoreState, inProgress bool, ts int64) (RestoreResult, error) {
	if step.Header == nil {
		return RestoreResult{}, codes.New(codes.InvalidArgument, "restore step 0 carries the header")
	}
	if inProgress {
		if st.Seq == 0 && st.Header == *step.Header {
			return RestoreResult{Duplicate: true}, nil
		}
		return RestoreResult{}, codes.New(codes.StoreNotEmpty, "another restore into this store is in progress")
	}
	if _, ok, err := a.restoreMarker(keyRestored); err != nil {
		return RestoreResult{}, err
	} else if ok {
		return RestoreResult{}, codes.New(codes.StoreNotEmpty, "a backup was already restored into this store")
	}
	empty, err := a.empty()
	if err != nil {
		return RestoreResult{}, err
	}
	if !empty {
		return RestoreResult{}, codes.New(codes.StoreNotEmpty, "the store holds data: a backup is restored only into an empty store")
	}
	a.b.Set(keyRestore, encode(&restoreState{Header: *step.Header, Started: ts, Updated: ts}), nil)
	a.restoring = true
	return RestoreResult{}, nil
}

// empty reports whether the store holds no data key (events, streams,
// snapshots, subscriptions: every key from 'a' on).
func (a *applier) empty() (bool, error) {
	if a.head.NextPosition != 0 {
		return false, nil
	}
	it := a.b.NewIter(&pebble.IterOptions{LowerBound: []byte{'a'}})
	defer it.Close()
	return !it.First(), it.Error()
}

func badRestore(format string, args ...any) error {
	return codes.New(codes.InvalidBackup, format, args...)
}

// section moves the restore to section s, refusing to go back.
func (st *restoreState) section(s int) error {
	if s < st.Section {
		return badRestore("records out of order: a kind came back after a later one")
	}
	if s > st.Section {
		st.Section, st.LastStream, st.LastNum, st.HasLast = s, "", 0, false
	}
	return nil
}

func (a *applier) restoreChunk(st *restoreState, c *wire.BackupChunk) error {
	if len(c.Events) > 0 {
		if err := st.section(restoreEvents); err != nil {
			return err
		}
		for i := range c.Events {
			if err := a.restoreEvent(st, &c.Events[i]); err != nil {
				return err
			}
		}
	}
	if len(c.Streams) > 0 {
		if err := st.section(restoreStreams); err != nil {
			return err
		}
		for i := range c.Streams {
			if err := a.restoreStream(st, &c.Streams[i]); err != nil {
				return err
			}
		}
	}
	if len(c.Snapshots) > 0 {
		if err := st.section(restoreSnapshots); err != nil {
			return err
		}
		for i := range c.Snapshots {
			if err := a.restoreSnapshot(st, &c.Snapshots[i]); err != nil {
				return err
			}
		}
	}
	if len(c.Subscriptions) > 0 {
		if err := st.section(restoreSubs); err != nil {
			return err
		}
		for i := range c.Subscriptions {
			if err := a.restoreSub(st, &c.Subscriptions[i]); err != nil {
				return err
			}
		}
	}
	if len(c.Parked) > 0 {
		if err := st.section(restoreParked); err != nil {
			return err
		}
		for i := range c.Parked {
			if err := a.restorePark(st, &c.Parked[i]); err != nil {
				return err
			}
		}
	}
	st.Counts.Add(c)
	return nil
}

func (a *applier) restoreEvent(st *restoreState, e *wire.BackupEvent) error {
	pos := a.head.NextPosition
	if e.Position != pos {
		return badRestore("event at position %d, expected %d: positions are dense from 0", e.Position, pos)
	}
	if pos >= st.Header.Position {
		return badRestore("event at position %d, beyond the backup's position %d", pos, st.Header.Position)
	}
	if e.Timestamp < st.LastTs {
		return badRestore("event %d: timestamp goes back", pos)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil {
		return badRestore("event %d: id %q is not a UUID", pos, wire.Truncate(e.ID))
	}
	if _, dup, err := get(a.b, idKey(id)); err != nil {
		return err
	} else if dup {
		return badRestore("event %d: id %s appears twice", pos, id)
	}
	if _, ok, err := get(a.b, revKey(e.Stream, e.Revision)); err != nil {
		return err
	} else if ok {
		return badRestore("event %d: revision %d of stream %q appears twice", pos, e.Revision, wire.Truncate(e.Stream))
	}
	if e.Revision > 0 {
		if _, ok, err := get(a.b, revKey(e.Stream, e.Revision-1)); err != nil {
			return err
		} else if !ok {
			return badRestore("event %d: revision %d of stream %q does not follow its previous one", pos, e.Revision, wire.Truncate(e.Stream))
		}
	}
	rec := eventRecord{
		ID: id, Stream: e.Stream, Type: e.Type, Revision: e.Revision, Timestamp: e.Timestamp,
		Data: e.Data, DataContentType: e.DataContentType, Metadata: e.Metadata, MetadataContentType: e.MetadataContentType,
	}
	a.b.Set(eventKey(pos), encode(&rec), nil)
	a.b.Set(revKey(e.Stream, e.Revision), u64(pos), nil)
	a.b.Set(idKey(id), u64(pos), nil)
	a.head.NextPosition++
	a.usage.Bytes += recordBytes(&rec)
	st.LastTs = e.Timestamp
	return nil
}

// revPosition returns the position of a stream's revision, if restored.
func (a *applier) revPosition(stream string, rev uint64) (uint64, bool, error) {
	b, ok, err := get(a.b, revKey(stream, rev))
	if err != nil || !ok {
		return 0, false, err
	}
	return decodeU64(b), true, nil
}

func (a *applier) restoreStream(st *restoreState, s *wire.BackupStream) error {
	if s.Stream <= st.LastStream {
		return badRestore("stream %q: streams are not in name order", wire.Truncate(s.Stream))
	}
	first, ok1, err := a.revPosition(s.Stream, 0)
	if err != nil {
		return err
	}
	last, ok2, err := a.revPosition(s.Stream, s.LastRevision)
	if err != nil {
		return err
	}
	_, beyond, err := a.revPosition(s.Stream, s.LastRevision+1)
	if err != nil {
		return err
	}
	if !ok1 || !ok2 || beyond || first != s.FirstPosition || last != s.LastPosition || s.Count != s.LastRevision+1 {
		return badRestore("stream %q does not match its events", wire.Truncate(s.Stream))
	}
	if s.Created > s.Updated {
		return badRestore("stream %q: created after its last update", wire.Truncate(s.Stream))
	}
	a.putStream(s.Stream, &streamMeta{
		LastRevision: s.LastRevision, Count: s.Count, FirstPosition: s.FirstPosition, LastPosition: s.LastPosition,
		Created: s.Created, Updated: s.Updated, Deleted: s.Deleted,
	})
	st.LastStream = s.Stream
	st.SumCount += s.Count
	return nil
}

func (a *applier) restoreSnapshot(st *restoreState, s *wire.BackupSnapshot) error {
	if st.HasLast && (s.Stream < st.LastStream || (s.Stream == st.LastStream && s.Version <= st.LastNum)) {
		return badRestore("snapshot %q %d: snapshots are not in (stream, version) order", wire.Truncate(s.Stream), s.Version)
	}
	m, err := a.stream(s.Stream)
	if err != nil {
		return err
	}
	if checkLive(m, s.Stream) != nil || s.Version > m.LastRevision {
		return badRestore("snapshot %q %d: of no live stream at that revision", wire.Truncate(s.Stream), s.Version)
	}
	if _, ok, err := get(a.b, snapshotKey(s.Stream, s.Version, snapshotHeader)); err != nil {
		return err
	} else if ok {
		return badRestore("snapshot %q %d appears twice", wire.Truncate(s.Stream), s.Version)
	}
	a.b.Set(snapshotKey(s.Stream, s.Version, snapshotBody), encode(&snapshotBodyRecord{Data: s.Data, Metadata: s.Metadata}), nil)
	a.b.Set(snapshotKey(s.Stream, s.Version, snapshotHeader), encode(&snapshotHeaderRecord{
		Type: s.Type, DataContentType: s.DataContentType, MetadataContentType: s.MetadataContentType,
		DataSize: uint64(len(s.Data)), MetadataSize: uint64(len(s.Metadata)), Created: s.Created,
	}), nil)
	st.LastStream, st.LastNum, st.HasLast = s.Stream, s.Version, true
	return nil
}

func (a *applier) restoreSub(st *restoreState, s *wire.BackupSubscription) error {
	if s.Name <= st.LastStream {
		return badRestore("subscription %q: subscriptions are not in name order", s.Name)
	}
	h := &st.Header
	if s.Generation == 0 || s.Generation > h.SubscriptionGeneration {
		return badRestore("subscription %q: generation %d is not within the backup's %d", s.Name, s.Generation, h.SubscriptionGeneration)
	}
	// High may be ahead of the head: the leader raises it in steps, before
	// it delivers beyond it.
	if s.Checkpoint > h.Position || s.StartPosition > h.Position || s.Checkpoint > s.High {
		return badRestore("subscription %q: positions beyond the backup's", s.Name)
	}
	a.b.Set(psubKey(s.Name), encode(&PSub{
		Name: s.Name, Gen: s.Generation, Stream: s.Stream, StreamPrefix: s.StreamPrefix, Category: s.Category,
		EventTypes: s.EventTypes, StartKind: s.Start, StartPosition: s.StartPosition, MaxInFlight: s.MaxInFlight,
		AckTimeoutMs: s.AckTimeoutMs, MaxRetries: s.MaxRetries, Strategy: s.Strategy, Created: s.Created,
		Updated: s.Updated, Checkpoint: s.Checkpoint, High: s.High, Parked: s.Parked,
	}), nil)
	st.LastStream = s.Name
	st.SumParked += s.Parked
	return nil
}

func (a *applier) restorePark(st *restoreState, p *wire.BackupParked) error {
	if st.HasLast && (p.Subscription < st.LastStream || (p.Subscription == st.LastStream && p.Position <= st.LastNum)) {
		return badRestore("parked event %q %d: not in (subscription, position) order", p.Subscription, p.Position)
	}
	b, ok, err := get(a.b, psubKey(p.Subscription))
	if err != nil {
		return err
	}
	if !ok {
		return badRestore("parked event of subscription %q, which the backup does not hold", p.Subscription)
	}
	var sub PSub
	if err := decode(b, &sub); err != nil {
		return err
	}
	if p.Position >= st.Header.Position {
		return badRestore("parked event %q %d: beyond the backup's position", p.Subscription, p.Position)
	}
	a.b.Set(psubParkKey(p.Subscription, p.Position), encode(&PSubPark{Reason: p.Reason, DeliveryCount: p.DeliveryCount, Parked: p.Parked}), nil)
	st.LastStream, st.LastNum, st.HasLast = p.Subscription, p.Position, true
	return nil
}

// completeRestore checks the backup's counts against what was restored and
// makes the store whole: its head, its subscription generation.
func (a *applier) completeRestore(st *restoreState, n *wire.BackupCounts) error {
	switch {
	case *n != st.Counts:
		return badRestore("the backup counts %+v records, the restore received %+v: it is truncated", *n, st.Counts)
	case a.head.NextPosition != st.Header.Position:
		return badRestore("the backup is consistent to position %d but holds events up to %d", st.Header.Position, a.head.NextPosition)
	case st.SumCount != st.Counts.Events:
		return badRestore("the streams count %d events, the backup holds %d", st.SumCount, st.Counts.Events)
	case st.SumParked != st.Counts.Parked:
		return badRestore("the subscriptions count %d parked events, the backup holds %d", st.SumParked, st.Counts.Parked)
	}
	if g := st.Header.SubscriptionGeneration; g > 0 {
		a.b.Set(keyPSubSeq, u64(g), nil)
	}
	// The source's clock, not the restore steps': timestamps of later
	// appends are the proposer's clock made non-decreasing from it.
	a.head.LastTimestamp = max(st.Header.LastTimestamp, st.LastTs)
	st.Completed = true
	return nil
}

// checkRestoring refuses every command but OpRestore while a restore is in
// progress.
func (a *applier) checkRestoring(op uint8) error {
	if a.restoring && op != OpRestore {
		return errRestoring()
	}
	return nil
}

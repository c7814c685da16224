package sm

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
)

// applier applies the commands of one Update call to an indexed batch, which
// reads its own writes: a command sees everything the commands before it in
// the same call wrote.
type applier struct {
	b    *kvBatch
	head head
	// usage and quota: the store's stored bytes and quota (quota.go),
	// written back with the head.
	usage    usage
	quota    Quota
	quotaSet bool // OpSetQuota was applied (possibly setting none)
	// metas is the committed stream metadata (metacache.go); pending holds
	// this Update's, as of its last command: what it wrote and what it read.
	metas   *metaCache
	pending map[string]streamMeta
	// restoring: a restore is in progress; every command but OpRestore is
	// refused (restore.go).
	restoring bool
	restored  bool // a restore completed in this Update
	// fatal is a local failure (a disk error, a corrupt record): it is not an
	// outcome every replica would reach, so it must not become a command's
	// result. Update returns it and dragonboat stops this replica.
	fatal error
}

func (a *applier) applyEntry(cmd []byte) []Result {
	if len(cmd) > 0 && cmd[0] > EntryVersion {
		// Written by a newer build: applying it as an error here while the
		// newer replicas apply it for real would make the replicas differ.
		a.fatal = fmt.Errorf("entry version %d is newer than this build's %d (store command version %d): %w", cmd[0], EntryVersion, MaxCommandVersion, ErrNewerEntry)
		return nil
	}
	batch, err := DecodeBatch(cmd)
	if err != nil {
		// A replica that cannot read an entry must not guess; every replica
		// fails the same way, so the outcome stays deterministic.
		r, _ := errorResult(codes.New(codes.Internal, "%v", err))
		return []Result{r}
	}
	ts := max(batch.Time, a.head.LastTimestamp)
	a.head.LastTimestamp = ts
	results := make([]Result, len(batch.Cmds))
	for i := range batch.Cmds {
		results[i] = a.apply(&batch.Cmds[i], ts)
	}
	return results
}

// ErrNewerEntry marks a Raft entry this build cannot apply because a newer
// build wrote it: the replica halts (dragonboat stops the process) rather
// than diverge from the replicas that apply it. The cluster version gate
// keeps it from happening: a node whose build is older than the cluster
// version refuses to serve (see docs/operations.md, Upgrading).
var ErrNewerEntry = errors.New("written by a newer Logbook build: upgrade this storenode to one that supports the cluster version")

// apply applies one command through the operation table (ops.go).
func (a *applier) apply(c *Command, ts int64) Result {
	fn := ops[c.Op]
	if fn == nil {
		// An op this build does not know was proposed by a newer one (the
		// cluster version let it: this node should not be running).
		// Answering it with an error here while newer replicas apply it
		// would make the replicas differ: stop instead.
		if a.fatal == nil {
			a.fatal = fmt.Errorf("command op %d is unknown to this build (store command version %d): %w", c.Op, MaxCommandVersion, ErrNewerEntry)
		}
		return Result{}
	}
	if err := a.checkRestoring(c.Op); err != nil {
		r, _ := errorResult(err)
		return r
	}
	body, err := fn(a, c, ts)
	if err != nil {
		r, ok := errorResult(err)
		if !ok && a.fatal == nil {
			a.fatal = err
		}
		return r
	}
	return successResult(body)
}

// stream returns a copy of the stream's metadata, nil if it has none.
func (a *applier) stream(name string) (*streamMeta, error) {
	if m, ok := a.pending[name]; ok {
		return &m, nil
	}
	if a.metas != nil {
		if m, ok := a.metas.get(name); ok {
			return &m, nil
		}
	}
	v, ok, err := get(a.b, streamKey(name))
	if err != nil || !ok {
		return nil, err
	}
	var m streamMeta
	if err := decode(v, &m); err != nil {
		return nil, err
	}
	a.remember(name, m)
	return &m, nil
}

// putStream writes the stream's metadata: the one writer of stream keys,
// so that the cache of them stays exact.
func (a *applier) putStream(name string, m *streamMeta) {
	a.b.Set(streamKey(name), encode(m), nil)
	a.remember(name, *m)
}

func (a *applier) remember(name string, m streamMeta) {
	if a.pending == nil {
		a.pending = make(map[string]streamMeta)
	}
	a.pending[name] = m
}

// checkExpected is the optimistic-concurrency check, done here, inside the
// replicated apply, so that exactly one of two racing writers can pass it.
func checkExpected(m *streamMeta, expect uint8, rev uint64) error {
	exists := m != nil && m.Count > 0
	var ok bool
	switch expect {
	case ExpectAny:
		ok = true
	case ExpectNoStream:
		ok = !exists
	case ExpectStreamExists:
		ok = exists
	case ExpectExact:
		ok = exists && m.LastRevision == rev
	default:
		return codes.New(codes.Internal, "unknown expected state %d", expect)
	}
	if ok {
		return nil
	}
	e := &codes.Error{Code: codes.WrongExpectedRevision}
	if exists {
		cur := m.LastRevision
		e.CurrentRevision = &cur
		e.Message = fmt.Sprintf("expected %s, stream is at revision %d", describeExpect(expect, rev), cur)
	} else {
		e.Message = fmt.Sprintf("expected %s, stream does not exist", describeExpect(expect, rev))
	}
	return e
}

func describeExpect(expect uint8, rev uint64) string {
	switch expect {
	case ExpectNoStream:
		return "no stream"
	case ExpectStreamExists:
		return "an existing stream"
	case ExpectExact:
		return fmt.Sprintf("revision %d", rev)
	}
	return "any"
}

func (a *applier) appendEvents(c *Command, ts int64) (AppendResult, error) {
	if len(c.Events) == 0 {
		return AppendResult{}, codes.New(codes.EmptyAppend, "an append needs at least one event")
	}
	if r, done, err := a.checkIdempotent(c); done || err != nil {
		return r, err
	}
	m, err := a.stream(c.Stream)
	if err != nil {
		return AppendResult{}, err
	}
	if m != nil && m.Deleted {
		return AppendResult{}, codes.New(codes.StreamDeleted, "stream %q was deleted", c.Stream)
	}
	if err := checkExpected(m, c.Expect, c.Revision); err != nil {
		return AppendResult{}, err
	}
	bytes := appendBytes(c)
	if err := a.checkQuota(uint64(len(c.Events)), bytes); err != nil {
		return AppendResult{}, err
	}
	a.usage.Bytes += bytes
	if m == nil {
		m = &streamMeta{Created: ts}
	}
	first := uint64(0)
	if m.Count > 0 {
		first = m.LastRevision + 1
	} else {
		m.FirstPosition = a.head.NextPosition
	}
	firstPos := a.head.NextPosition
	for i := range c.Events {
		ev := &c.Events[i]
		pos, rev := a.head.NextPosition, first+uint64(i)
		rec := eventRecord{
			ID: ev.ID, Stream: c.Stream, Type: ev.Type, Revision: rev, Timestamp: ts,
			Data: ev.Data, DataContentType: ev.DataContentType,
			Metadata: ev.Metadata, MetadataContentType: ev.MetadataContentType,
		}
		a.b.Set(eventKey(pos), encode(&rec), nil)
		a.b.Set(revKey(c.Stream, rev), u64(pos), nil)
		a.b.Set(idKey(ev.ID), u64(pos), nil)
		a.head.NextPosition++
	}
	n := uint64(len(c.Events))
	m.LastRevision = first + n - 1
	m.Count += n
	m.LastPosition = a.head.NextPosition - 1
	m.Updated = ts
	a.putStream(c.Stream, m)
	return AppendResult{
		FirstRevision: first, LastRevision: m.LastRevision,
		FirstPosition: firstPos, LastPosition: m.LastPosition, Timestamp: ts,
	}, nil
}

// checkIdempotent looks the append's event ids up. None written before: go
// on. All written before, by this same append (same stream, same order,
// consecutive revisions): done, with the original result. Anything else is
// an IdempotencyConflict. The window is the whole life of the store: ids are
// kept as long as their events.
func (a *applier) checkIdempotent(c *Command) (AppendResult, bool, error) {
	positions := make([]uint64, len(c.Events))
	found := 0
	// One iterator for the command's ids (it sees the batch's writes so
	// far: ids of earlier commands of the entry count), each lookup a
	// filtered seek: new ids, the common case, read no table block.
	it := a.b.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixID}, UpperBound: []byte{prefixID + 1}, UseL6Filters: true})
	for i := range c.Events {
		if it.seekExact(idKey(c.Events[i].ID)) {
			found++
			positions[i] = decodeU64(it.Value())
		}
	}
	if err := it.Close(); err != nil {
		return AppendResult{}, false, fmt.Errorf("sm: event id lookup: %w", err)
	}
	if found == 0 {
		return AppendResult{}, false, nil
	}
	conflict := func(format string, args ...any) (AppendResult, bool, error) {
		return AppendResult{}, false, codes.New(codes.IdempotencyConflict, format, args...)
	}
	if found < len(c.Events) {
		return conflict("%d of the %d event ids were already written by another append", found, len(c.Events))
	}
	var r AppendResult
	for i, pos := range positions {
		v, ok, err := get(a.b, eventKey(pos))
		if err != nil {
			return AppendResult{}, false, err
		}
		if !ok {
			return AppendResult{}, false, fmt.Errorf("sm: corrupt store: event id index points at missing position %d", pos)
		}
		var rec eventRecord
		if err := decode(v, &rec); err != nil {
			return AppendResult{}, false, err
		}
		if rec.Stream != c.Stream {
			return conflict("event id %s was already written to another stream", uuid.UUID(c.Events[i].ID))
		}
		if i == 0 {
			r = AppendResult{FirstRevision: rec.Revision, FirstPosition: pos, Timestamp: rec.Timestamp, Duplicate: true}
		} else if rec.Revision != r.FirstRevision+uint64(i) {
			return conflict("event ids were already written, but not as one append in this order")
		}
		r.LastRevision, r.LastPosition = rec.Revision, pos
	}
	return r, true, nil
}

func (a *applier) deleteStream(c *Command, ts int64) (DeleteResult, error) {
	m, err := a.stream(c.Stream)
	if err != nil {
		return DeleteResult{}, err
	}
	if m != nil && m.Deleted {
		// A retried delete (after a timeout) that took effect the first time
		// succeeds again, so that retrying is safe; an expectation the
		// deleted stream never satisfied still fails.
		if c.Expect == ExpectAny || c.Expect == ExpectStreamExists || (c.Expect == ExpectExact && c.Revision == m.LastRevision) {
			return DeleteResult{LastRevision: m.LastRevision, Timestamp: m.Updated, Duplicate: true}, nil
		}
		return DeleteResult{}, codes.New(codes.StreamDeleted, "stream %q was already deleted", c.Stream)
	}
	if err := checkExpected(m, c.Expect, c.Revision); err != nil {
		return DeleteResult{}, err
	}
	if m == nil || m.Count == 0 {
		return DeleteResult{}, codes.New(codes.StreamNotFound, "stream %q does not exist", c.Stream)
	}
	// What hangs off the stream goes with it, in the same batch.
	if _, err := a.removeSnapshots(c.Stream, nil); err != nil {
		// Always fatal, even a *codes.Error: the batch holds part of the deletion.
		a.fatal = fmt.Errorf("sm: delete stream %q: %w", c.Stream, err)
		return DeleteResult{}, nil
	}
	m.Deleted, m.Updated = true, ts
	a.putStream(c.Stream, m)
	return DeleteResult{LastRevision: m.LastRevision, Timestamp: ts}, nil
}

func decodeU64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 |
		uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
}

package sm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Queries accepted by Lookup. Each returns the matching wire reply.
type (
	ReadStream struct {
		Req   *wire.ReadRequest
		Count int
	}
	ReadAll struct {
		Req   *wire.ReadAllRequest
		Count int
	}
	ListStreams struct {
		Req   *wire.ListStreamsRequest
		Limit int
	}
	StreamInfo struct{ Stream string }
)

// MaxScan bounds how many events one filtered $all read examines; a page may
// then come back short (even empty) with a cursor to continue from.
const MaxScan = 10_000

// eventOverhead approximates the encoded size of an event beyond its payloads.
const eventOverhead = 128

// Lookup answers a query from one consistent view of committed state.
func (s *StateMachine) Lookup(q any) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, codes.New(codes.Unavailable, "store is closed")
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	v := view{snap: snap, maxReply: s.limits.MaxReplySize}
	switch q := q.(type) {
	case ReadStream:
		return v.readStream(q.Req, q.Count)
	case ReadAll:
		return v.readAll(q.Req, q.Count)
	case ListStreams:
		return v.listStreams(q.Req, q.Limit)
	case StreamInfo:
		return v.streamInfo(q.Stream)
	case ExtQuery:
		return q.Run(v)
	}
	return nil, fmt.Errorf("sm: unknown query %T", q)
}

type view struct {
	snap     *pebble.Snapshot
	maxReply int
}

func (v view) stream(name string) (*streamMeta, error) {
	b, ok, err := get(v.snap, streamKey(name))
	if err != nil || !ok {
		return nil, err
	}
	var m streamMeta
	return &m, decode(b, &m)
}

func toWire(b []byte, pos uint64) (wire.RecordedEvent, error) {
	var r eventRecord
	if err := decode(b, &r); err != nil {
		return wire.RecordedEvent{}, err
	}
	return wire.RecordedEvent{
		ID: uuid.UUID(r.ID).String(), Stream: r.Stream, Type: r.Type,
		Revision: r.Revision, Position: pos, Timestamp: r.Timestamp,
		Data: nonNil(r.Data), DataContentType: r.DataContentType,
		Metadata: nonNil(r.Metadata), MetadataContentType: r.MetadataContentType,
	}, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func eventSize(e *wire.RecordedEvent) int {
	return eventOverhead + len(e.Stream) + len(e.Type) + len(e.Data) + len(e.Metadata) +
		len(e.DataContentType) + len(e.MetadataContentType)
}

func (v view) liveStream(name string) (*streamMeta, error) {
	m, err := v.stream(name)
	if err != nil {
		return nil, err
	}
	return m, checkLive(m, name)
}

// checkLive is the outcome for a stream that does not exist (m nil or
// empty) or was deleted; nil for a live one.
func checkLive(m *streamMeta, name string) error {
	if m == nil || m.Count == 0 {
		return codes.New(codes.StreamNotFound, "stream %q does not exist", name)
	}
	if m.Deleted {
		return codes.New(codes.StreamDeleted, "stream %q was deleted", name)
	}
	return nil
}

func (v view) readStream(req *wire.ReadRequest, count int) (*wire.ReadReply, error) {
	m, err := v.liveStream(req.Stream)
	if err != nil {
		return nil, err
	}
	reply := &wire.ReadReply{Events: []wire.RecordedEvent{}, LastRevision: m.LastRevision}
	backward := req.Direction == wire.Backward
	var from uint64
	switch {
	case req.FromRevision != nil:
		from = uint64(*req.FromRevision)
	case backward:
		from = m.LastRevision
	}
	if backward {
		from = min(from, m.LastRevision)
	} else if from > m.LastRevision {
		reply.NextRevision, reply.EndOfStream = from, true
		return reply, nil
	}
	opts := &pebble.IterOptions{LowerBound: revKey(req.Stream, 0), UpperBound: prefixEnd(revPrefix(req.Stream))}
	if backward {
		opts.UpperBound = revKey(req.Stream, from+1)
	} else {
		opts.LowerBound = revKey(req.Stream, from)
	}
	it := v.snap.NewIter(opts)
	defer it.Close()
	ok := it.First()
	if backward {
		ok = it.Last()
	}
	// One iterator positioned over the events beats a point lookup per event:
	// a stream's positions only grow (or only shrink, going backward), so
	// each seek lands near the last one.
	evIt := v.snap.NewIter(&pebble.IterOptions{LowerBound: eventKey(m.FirstPosition), UpperBound: eventKey(m.LastPosition + 1)})
	defer evIt.Close()
	size := 0
	var last uint64
	for ; ok && len(reply.Events) < count; ok = advance(it, backward) {
		pos := decodeU64(it.Value())
		if !evIt.SeekGE(eventKey(pos)) || posFromEventKey(evIt.Key()) != pos {
			return nil, codes.New(codes.Internal, "missing event at position %d", pos)
		}
		ev, err := toWire(evIt.Value(), pos)
		if err != nil {
			return nil, err
		}
		if size += eventSize(&ev); size > v.maxReply && len(reply.Events) > 0 {
			break
		}
		reply.Events = append(reply.Events, ev)
		last = ev.Revision
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: read stream: %w", err)
	}
	switch {
	case len(reply.Events) == 0:
		reply.NextRevision, reply.EndOfStream = from, true
	case backward:
		reply.EndOfStream = last == 0
		if !reply.EndOfStream {
			reply.NextRevision = last - 1
		}
	default:
		reply.NextRevision = last + 1
		reply.EndOfStream = last == m.LastRevision
	}
	return reply, nil
}

func advance(it *pebble.Iterator, backward bool) bool {
	if backward {
		return it.Prev()
	}
	return it.Next()
}

type matcher struct {
	prefix, category string
	types            []string
}

func newMatcher(f *wire.Filter) *matcher {
	if f == nil || (f.StreamPrefix == "" && f.Category == "" && len(f.EventTypes) == 0) {
		return nil
	}
	return &matcher{prefix: f.StreamPrefix, category: f.Category, types: f.EventTypes}
}

func (m *matcher) match(e *wire.RecordedEvent) bool {
	if m == nil {
		return true
	}
	if m.prefix != "" && !strings.HasPrefix(e.Stream, m.prefix) {
		return false
	}
	if m.category != "" && wire.Category(e.Stream) != m.category {
		return false
	}
	return len(m.types) == 0 || slices.Contains(m.types, e.Type)
}

func (v view) readAll(req *wire.ReadAllRequest, count int) (*wire.ReadAllReply, error) {
	var h head
	if b, ok, err := get(v.snap, keyHead); err != nil {
		return nil, err
	} else if ok {
		if err := decode(b, &h); err != nil {
			return nil, err
		}
	}
	reply := &wire.ReadAllReply{Events: []wire.RecordedEvent{}}
	backward := req.Direction == wire.Backward
	if h.NextPosition == 0 {
		reply.EndOfStore = true
		return reply, nil
	}
	var from uint64
	switch {
	case req.FromPosition != nil:
		from = uint64(*req.FromPosition)
	case backward:
		from = h.NextPosition - 1
	}
	if backward {
		from = min(from, h.NextPosition-1)
	} else if from >= h.NextPosition {
		reply.NextPosition, reply.EndOfStore = from, true
		return reply, nil
	}
	opts := &pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(h.NextPosition)}
	if backward {
		opts.LowerBound, opts.UpperBound = eventKey(0), eventKey(from+1)
	}
	it := v.snap.NewIter(opts)
	defer it.Close()
	ok := it.First()
	if backward {
		ok = it.Last()
	}
	match := newMatcher(req.Filter)
	size, scanned := 0, 0
	next := from
	exhausted := true
	for ; ok; ok = advance(it, backward) {
		if len(reply.Events) >= count || scanned >= MaxScan {
			exhausted = false
			break
		}
		pos := posFromEventKey(it.Key())
		ev, err := toWire(it.Value(), pos)
		if err != nil {
			return nil, err
		}
		if match.match(&ev) {
			if size += eventSize(&ev); size > v.maxReply && len(reply.Events) > 0 {
				exhausted = false
				break
			}
			reply.Events = append(reply.Events, ev)
		}
		scanned++
		if backward {
			next = pos - 1 // wraps only when pos == 0, where exhausted stays true
		} else {
			next = pos + 1
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: read all: %w", err)
	}
	reply.EndOfStore = exhausted
	if !(backward && exhausted) {
		reply.NextPosition = next
	}
	return reply, nil
}

func (v view) info(name string, m *streamMeta) wire.StreamInfo {
	return wire.StreamInfo{
		Stream: name, LastRevision: m.LastRevision, EventCount: m.Count,
		FirstPosition: m.FirstPosition, LastPosition: m.LastPosition,
		Created: m.Created, Updated: m.Updated, Deleted: m.Deleted,
	}
}

func (v view) streamInfo(name string) (*wire.StreamInfo, error) {
	m, err := v.stream(name)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Count == 0 {
		return nil, codes.New(codes.StreamNotFound, "stream %q does not exist", name)
	}
	info := v.info(name, m)
	return &info, nil
}

func (v view) listStreams(req *wire.ListStreamsRequest, limit int) (*wire.ListStreamsReply, error) {
	lower := streamKey(req.Prefix)
	if req.After != "" {
		if after := append(streamKey(req.After), 0); string(after) > string(lower) {
			lower = after
		}
	}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(streamKey(req.Prefix))})
	defer it.Close()
	reply := &wire.ListStreamsReply{Streams: []wire.StreamInfo{}}
	for ok := it.First(); ok; ok = it.Next() {
		if len(reply.Streams) == limit {
			reply.Next = reply.Streams[limit-1].Stream
			break
		}
		var m streamMeta
		if err := decode(it.Value(), &m); err != nil {
			return nil, err
		}
		reply.Streams = append(reply.Streams, v.info(string(it.Key()[1:]), &m))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list streams: %w", err)
	}
	return reply, nil
}

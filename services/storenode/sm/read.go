package sm

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Reads of streams and of $all (the queries ReadStream, ReadAll, GetStream
// and ListStreams) and their answers.

// StreamPage is one page of a stream: the answer to ReadStream.
type StreamPage struct {
	Events []Event
	// NextRevision is where the next page starts.
	NextRevision uint64
	// EndOfStream is true when the page reaches the end in its direction:
	// the stream's last event (forward) or revision 0 (backward).
	EndOfStream bool
	// LastRevision is the stream's last revision when it was read.
	LastRevision uint64
	// Encoded holds the events instead of Events when ReadStream asked for
	// them encoded (nil otherwise).
	Encoded *wire.EncodedEvents
}

// AllPage is one page of $all: the answer to ReadAll. With a filter it may
// hold fewer events than asked (even none) without being the end: continue
// from NextPosition.
type AllPage struct {
	Events       []Event
	NextPosition uint64
	EndOfStore   bool
	// Encoded holds the events instead of Events when ReadAll asked for
	// them encoded (nil otherwise).
	Encoded *wire.EncodedEvents
}

// StreamInfo describes a stream: the answer to GetStream. Its fields are
// those of the client protocol's StreamInfo, in the same order.
type StreamInfo struct {
	Stream        string
	LastRevision  uint64
	EventCount    uint64
	FirstPosition uint64
	LastPosition  uint64
	Created       int64
	Updated       int64
	Deleted       bool
}

// StreamList is one page of streams: the answer to ListStreams. Next is
// empty on the last page.
type StreamList struct {
	Streams []StreamInfo
	Next    string
}

func (v view) readStream(q *ReadStream) (*StreamPage, error) {
	m, err := v.liveStream(q.Stream)
	if err != nil {
		return nil, err
	}
	reply := &StreamPage{Events: []Event{}, LastRevision: m.LastRevision}
	backward := q.Backward
	var from uint64
	switch {
	case q.From != nil:
		from = *q.From
	case backward:
		from = m.LastRevision
	}
	if backward {
		from = min(from, m.LastRevision)
	} else if from > m.LastRevision {
		reply.NextRevision, reply.EndOfStream = from, true
		return reply, nil
	}
	opts := &pebble.IterOptions{LowerBound: revKey(q.Stream, 0), UpperBound: prefixEnd(revPrefix(q.Stream))}
	if backward {
		opts.UpperBound = revKey(q.Stream, from+1)
	} else {
		opts.LowerBound = revKey(q.Stream, from)
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
	out := newPageOut(q.Encoded, v.maxReply)
	var last uint64
	for ; ok && out.n() < q.Count; ok = advance(it, backward) {
		pos := decodeU64(it.Value())
		if !evIt.SeekGE(eventKey(pos)) || posFromEventKey(evIt.Key()) != pos {
			return nil, codes.New(codes.Internal, "missing event at position %d", pos)
		}
		full, rev, err := out.add(evIt.Value(), pos, nil)
		if err != nil {
			return nil, err
		}
		if full {
			break
		}
		last = rev
	}
	reply.Events, reply.Encoded = out.result()
	n := out.n()
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: read stream: %w", err)
	}
	switch {
	case n == 0:
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

func advance(it *kvIter, backward bool) bool {
	if backward {
		return it.Prev()
	}
	return it.Next()
}

func (v view) readAll(q *ReadAll) (*AllPage, error) {
	h, err := v.head()
	if err != nil {
		return nil, err
	}
	reply := &AllPage{Events: []Event{}}
	backward := q.Backward
	if h.NextPosition == 0 {
		reply.EndOfStore = true
		return reply, nil
	}
	var from uint64
	switch {
	case q.From != nil:
		from = *q.From
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
	out := newPageOut(q.Encoded && q.Filter == nil, v.maxReply)
	if !backward && q.Filter == nil && out.enc == nil {
		// Every position up to the head holds an event: the page's size is
		// known, and its slice is made once.
		out.events = make([]Event, 0, min(uint64(q.Count), h.NextPosition-from))
	}
	scanned := 0
	next := from
	exhausted := true
	for ; ok; ok = advance(it, backward) {
		if out.n() >= q.Count || scanned >= MaxScan {
			exhausted = false
			break
		}
		pos := posFromEventKey(it.Key())
		full, _, err := out.add(it.Value(), pos, q.Filter)
		if err != nil {
			return nil, err
		}
		if full {
			exhausted = false
			break
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
	reply.Events, reply.Encoded = out.result()
	reply.EndOfStore = exhausted
	if !(backward && exhausted) {
		reply.NextPosition = next
	}
	return reply, nil
}

func info(name string, m *streamMeta) StreamInfo {
	return StreamInfo{
		Stream: name, LastRevision: m.LastRevision, EventCount: m.Count,
		FirstPosition: m.FirstPosition, LastPosition: m.LastPosition,
		Created: m.Created, Updated: m.Updated, Deleted: m.Deleted,
	}
}

func (v view) streamInfo(name string) (*StreamInfo, error) {
	m, err := v.stream(name)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Count == 0 {
		return nil, codes.New(codes.StreamNotFound, "stream %q does not exist", name)
	}
	info := info(name, m)
	return &info, nil
}

func (v view) listStreams(q *ListStreams) (*StreamList, error) {
	lower := streamKey(q.Prefix)
	if q.After != "" {
		if after := append(streamKey(q.After), 0); string(after) > string(lower) {
			lower = after
		}
	}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(streamKey(q.Prefix))})
	defer it.Close()
	reply := &StreamList{Streams: []StreamInfo{}}
	for ok := it.First(); ok; ok = it.Next() {
		if len(reply.Streams) == q.Limit {
			reply.Next = reply.Streams[q.Limit-1].Stream
			break
		}
		var m streamMeta
		if err := decode(it.Value(), &m); err != nil {
			return nil, err
		}
		reply.Streams = append(reply.Streams, info(string(it.Key()[1:]), &m))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list streams: %w", err)
	}
	return reply, nil
}

// pageOut collects the events of a page: as Events, or (encoded) already in
// the client protocol's encoding, transcoded from the stored records with
// no Event in between (the catch-up of $all reads pages of thousands). A
// page stops before its events pass maxReply bytes, but holds at least one.
type pageOut struct {
	events   []Event
	enc      *wire.EncodedEvents
	size     int
	maxReply int
}

func newPageOut(encoded bool, maxReply int) *pageOut {
	p := &pageOut{events: []Event{}, maxReply: maxReply}
	if encoded {
		p.enc, p.events = &wire.EncodedEvents{}, nil
	}
	return p
}

// n is the number of events in the page.
func (p *pageOut) n() int {
	if p.enc != nil {
		return p.enc.N
	}
	return len(p.events)
}

// add adds the stored record b at pos if it passes f (nil: every event);
// full reports that it would pass the page's size instead, and rev is its
// revision. A record that fails f is never made an Event.
func (p *pageOut) add(b []byte, pos uint64, f *Filter) (full bool, rev uint64, err error) {
	rec, err := recordOf(b)
	if err != nil {
		return false, 0, err
	}
	if !f.matchRecord(&rec) {
		return false, rec.revision, nil
	}
	if p.size += rec.size(); p.size > p.maxReply && p.n() > 0 {
		return true, 0, nil
	}
	if p.enc == nil {
		p.events = append(p.events, rec.event(pos))
	} else {
		p.enc.B = rec.appendWire(p.enc.B, pos)
		p.enc.N++
	}
	return false, rec.revision, nil
}

// result is the page: its Events, or its encoded events (Events nil).
func (p *pageOut) result() ([]Event, *wire.EncodedEvents) { return p.events, p.enc }

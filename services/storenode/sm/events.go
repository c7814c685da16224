package sm

import (
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/pkg/wire/msgp"
)

// Event is a recorded event as the queries answer it. Its fields are those
// of the client protocol's RecordedEvent, in the same order, so that the
// node converts one into the other without copying the payloads.
type Event struct {
	ID       string // the event id, a UUID in its 36-character form
	Stream   string
	Type     string
	Revision uint64 // in its stream
	Position uint64 // in the store
	// Timestamp is the commit time (Unix ns).
	Timestamp           int64
	Data                []byte // never nil
	DataContentType     string
	Metadata            []byte // never nil
	MetadataContentType string
}

// toEvent decodes the event record at position pos. Reads of $all and
// catch-ups decode records by the thousand, so a record is read by hand
// (readRecord); the reflection decoder reads any shape the hand reader does
// not expect.
func toEvent(b []byte, pos uint64) (Event, error) {
	if ev, ok := readRecord(b, pos); ok {
		return ev, nil
	}
	var r eventRecord
	if err := decode(b, &r); err != nil {
		return Event{}, err
	}
	return Event{
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

// eventOverhead approximates the encoded size of an event beyond its payloads.
const eventOverhead = 128

// eventSize approximates the encoded size of an event in a reply.
func eventSize(e *Event) int {
	return eventOverhead + len(e.Stream) + len(e.Type) + len(e.Data) + len(e.Metadata) +
		len(e.DataContentType) + len(e.MetadataContentType)
}

// Filter selects events, for reads of $all and for persistent
// subscriptions. Its fields combine with AND; an empty field selects every
// event.
type Filter struct {
	Stream       string // exactly this stream
	StreamPrefix string
	Category     string // the stream name's part before its first '-'
	EventTypes   []string
}

// Match reports whether e passes the filter; a nil filter passes every event.
func (f *Filter) Match(e *Event) bool {
	if f == nil {
		return true
	}
	if f.Stream != "" && e.Stream != f.Stream {
		return false
	}
	if f.StreamPrefix != "" && !strings.HasPrefix(e.Stream, f.StreamPrefix) {
		return false
	}
	if f.Category != "" && wire.Category(e.Stream) != f.Category {
		return false
	}
	return len(f.EventTypes) == 0 || slices.Contains(f.EventTypes, e.Type)
}

// readRecord reads an eventRecord as encode writes it (an array of its 9
// fields, the id as 16 bytes); ok is false for anything else. The payloads
// are copied: b belongs to an engine iterator.
func readRecord(b []byte, pos uint64) (ev Event, ok bool) {
	r := msgp.NewReader(b)
	var failed bool
	str := func() string {
		s, err := r.String()
		failed = failed || err != nil
		return s
	}
	payload := func() []byte {
		p, err := r.Bytes()
		failed = failed || err != nil
		return append([]byte{}, p...) // never nil, as nonNil
	}
	if n, err := r.ArrayLen(); err != nil || n != 9 {
		return Event{}, false
	}
	id, err := r.Bytes()
	if err != nil || len(id) != 16 {
		return Event{}, false
	}
	ev.ID, ev.Position = uuid.UUID(id).String(), pos
	ev.Stream, ev.Type = str(), str()
	rev, err1 := r.Uint()
	ts, err2 := r.Int()
	ev.Revision, ev.Timestamp = rev, ts
	ev.Data, ev.DataContentType = payload(), str()
	ev.Metadata, ev.MetadataContentType = payload(), str()
	if failed || err1 != nil || err2 != nil || len(r.Rest()) != 0 {
		return Event{}, false
	}
	return ev, true
}

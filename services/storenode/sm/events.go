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

// toEvent decodes the event record at position pos (recordOf: by hand, or
// by reflection for a shape the hand reader does not expect).
func toEvent(b []byte, pos uint64) (Event, error) {
	rec, err := recordOf(b)
	if err != nil {
		return Event{}, err
	}
	return rec.event(pos), nil
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
	return f == nil || f.match(e.Stream, e.Type)
}

// matchRecord reports whether the stored event r passes the filter, before
// an Event is made of it: a filtered read scans events that fail by the
// thousand.
func (f *Filter) matchRecord(r *record) bool {
	return f == nil || f.match(string(r.stream), string(r.typ))
}

func (f *Filter) match(stream, typ string) bool {
	if f.Stream != "" && stream != f.Stream {
		return false
	}
	if f.StreamPrefix != "" && !strings.HasPrefix(stream, f.StreamPrefix) {
		return false
	}
	if f.Category != "" && wire.Category(stream) != f.Category {
		return false
	}
	return len(f.EventTypes) == 0 || slices.Contains(f.EventTypes, typ)
}

// record is a stored event's fields as bytes, aliasing the stored value.
type record struct {
	id                                      [16]byte
	stream, typ, data, dataCT, meta, metaCT []byte
	revision                                uint64
	timestamp                               int64
}

// parseRecord reads an eventRecord as encode writes it (an array of its 9
// fields, the id as 16 bytes) without copying; ok is false for anything
// else. b belongs to an engine iterator: so does the record.
func parseRecord(b []byte) (rec record, ok bool) {
	r := msgp.NewReader(b)
	var failed bool
	bytes := func() []byte {
		p, err := r.Bytes()
		failed = failed || err != nil
		return p
	}
	if n, err := r.ArrayLen(); err != nil || n != 9 {
		return record{}, false
	}
	id := bytes()
	if failed || len(id) != 16 {
		return record{}, false
	}
	copy(rec.id[:], id)
	rec.stream, rec.typ = bytes(), bytes()
	rev, err1 := r.Uint()
	ts, err2 := r.Int()
	rec.revision, rec.timestamp = rev, ts
	rec.data, rec.dataCT = bytes(), bytes()
	rec.meta, rec.metaCT = bytes(), bytes()
	if failed || err1 != nil || err2 != nil || len(r.Rest()) != 0 {
		return record{}, false
	}
	return rec, true
}

// recordOf reads a stored event's fields: by hand, or by the reflection
// decoder for a shape parseRecord does not expect.
func recordOf(b []byte) (record, error) {
	if rec, ok := parseRecord(b); ok {
		return rec, nil
	}
	var r eventRecord
	if err := decode(b, &r); err != nil {
		return record{}, err
	}
	return record{id: r.ID, stream: []byte(r.Stream), typ: []byte(r.Type), data: r.Data, dataCT: []byte(r.DataContentType),
		meta: r.Metadata, metaCT: []byte(r.MetadataContentType), revision: r.Revision, timestamp: r.Timestamp}, nil
}

// size is eventSize of the event the record holds.
func (r *record) size() int {
	return eventOverhead + len(r.stream) + len(r.typ) + len(r.data) + len(r.meta) + len(r.dataCT) + len(r.metaCT)
}

// appendWire appends the record at pos as the client protocol's
// RecordedEvent, exactly as the event toEvent makes would be encoded
// (payloads never nil).
func (r *record) appendWire(b []byte, pos uint64) []byte {
	return wire.AppendRecordedEvent(b, r.id, r.stream, r.typ, r.revision, pos, r.timestamp,
		nonNil(r.data), r.dataCT, nonNil(r.meta), r.metaCT)
}

// event is the record at pos as an Event, its payloads copied (never nil):
// the record aliases an engine iterator's memory.
func (r *record) event(pos uint64) Event {
	return Event{
		ID: uuid.UUID(r.id).String(), Stream: string(r.stream), Type: string(r.typ),
		Revision: r.revision, Position: pos, Timestamp: r.timestamp,
		Data: append([]byte{}, r.data...), DataContentType: string(r.dataCT),
		Metadata: append([]byte{}, r.meta...), MetadataContentType: string(r.metaCT),
	}
}

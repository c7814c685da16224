package wire

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// Events cross the wire by the thousand (a page of a read, a catch-up
// subscription's history, persistent subscription deliveries), and the
// library's reflection was most of a read's CPU on both ends (issue 11:
// encoding a page 12%, decoding it in the client 24% of a catch-up
// replay's samples). So RecordedEvent encodes itself, and the replies that
// carry events decode themselves from the raw bytes (msgp). The bytes and
// the decoded values are exactly those of the reflection path: the tests
// compare both on every field.

// EncodeMsgpack writes e as the map the reflection encoder writes: the keys
// of its msgpack tags in declaration order, integers in their most compact
// form (as Marshal's encoder does), nil byte slices as nil. The map is
// appended to the encoder's buffer in one write.
func (e RecordedEvent) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := enc.Writer()
	var b []byte
	if buf, ok := w.(*bytes.Buffer); ok {
		b = buf.AvailableBuffer()
	}
	b = e.appendMsgpack(b)
	_, err := w.Write(b)
	return err
}

func (e *RecordedEvent) appendMsgpack(b []byte) []byte {
	return appendEvent(b, e.ID, e.Stream, e.Type, e.Revision, e.Position, e.Timestamp,
		e.Data, e.DataContentType, e.Metadata, e.MetadataContentType)
}

// appendEvent appends a RecordedEvent's map with these fields, whether its
// strings are strings (a RecordedEvent) or bytes (a stored record).
func appendEvent[S string | []byte](b []byte, id, stream, typ S, revision, position uint64, timestamp int64, data []byte, dataCT S, meta []byte, metaCT S) []byte {
	b = msgp.AppendMapLen(b, 10)
	b = msgp.AppendStr(msgp.AppendString(b, "id"), id)
	b = msgp.AppendStr(msgp.AppendString(b, "stream"), stream)
	b = msgp.AppendStr(msgp.AppendString(b, "type"), typ)
	b = msgp.AppendUint(msgp.AppendString(b, "revision"), revision)
	b = msgp.AppendUint(msgp.AppendString(b, "position"), position)
	b = msgp.AppendInt(msgp.AppendString(b, "timestamp"), timestamp)
	b = msgp.AppendBytes(msgp.AppendString(b, "data"), data)
	b = msgp.AppendStr(msgp.AppendString(b, "data_content_type"), dataCT)
	b = msgp.AppendBytes(msgp.AppendString(b, "metadata"), meta)
	return msgp.AppendStr(msgp.AppendString(b, "metadata_content_type"), metaCT)
}

// rawDecoder is a reply that decodes itself from its bytes (unmarshal uses
// it for replies, after the shape check); unknown keys are skipped.
type rawDecoder interface {
	decodeRaw(r *msgp.Reader) error
}

// fields reads a map, calling field for each key; field returns false for
// a key it does not know, which is then skipped.
func fields(r *msgp.Reader, field func(key []byte) (bool, error)) error {
	n, err := r.MapLen()
	if err != nil {
		return err
	}
	for range n {
		k, err := r.Bytes()
		if err != nil {
			return err
		}
		known, err := field(k)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if !known {
			if err := r.Skip(); err != nil {
				return err
			}
		}
	}
	return nil
}

// set reads one value into *dst with read.
func set[T any](dst *T, read func() (T, error)) error {
	v, err := read()
	if err == nil {
		*dst = v
	}
	return err
}

// bytesCopy reads bytes as a slice of their own (nil stays nil), so an event
// kept by its caller does not keep the whole page alive.
func bytesCopy(r *msgp.Reader) func() ([]byte, error) {
	return func() ([]byte, error) {
		b, err := r.Bytes()
		if b == nil || err != nil {
			return nil, err
		}
		return bytes.Clone(b), nil
	}
}

func (e *RecordedEvent) decodeRaw(r *msgp.Reader) error { return e.decodeWith(r, nil) }

// repeats holds the strings of the last event decoded from a page: events
// of a page often share their stream, type and content types, and a string
// equal to the last one is that one again, not a new allocation.
type repeats struct{ stream, typ, dataCT, metaCT string }

// again reads a string, returning *last when the bytes are the same.
func again(r *msgp.Reader, last *string) func() (string, error) {
	return func() (string, error) {
		b, err := r.Bytes()
		if err != nil {
			return "", err
		}
		if string(b) != *last {
			*last = string(b)
		}
		return *last, nil
	}
}

// decodeWith decodes an event, reusing rep's strings (nil: none).
func (e *RecordedEvent) decodeWith(r *msgp.Reader, rep *repeats) error {
	if rep == nil {
		rep = &repeats{}
	}
	return fields(r, func(k []byte) (bool, error) {
		switch string(k) {
		case "id":
			return true, set(&e.ID, r.String)
		case "stream":
			return true, set(&e.Stream, again(r, &rep.stream))
		case "type":
			return true, set(&e.Type, again(r, &rep.typ))
		case "revision":
			return true, set(&e.Revision, r.Uint)
		case "position":
			return true, set(&e.Position, r.Uint)
		case "timestamp":
			return true, set(&e.Timestamp, r.Int)
		case "data":
			return true, set(&e.Data, bytesCopy(r))
		case "data_content_type":
			return true, set(&e.DataContentType, again(r, &rep.dataCT))
		case "metadata":
			return true, set(&e.Metadata, bytesCopy(r))
		case "metadata_content_type":
			return true, set(&e.MetadataContentType, again(r, &rep.metaCT))
		}
		return false, nil
	})
}

// events reads an array of events (nil: a nil slice, as the library).
func events(r *msgp.Reader, dst *[]RecordedEvent) error {
	if len(r.Rest()) > 0 && r.Rest()[0] == 0xc0 {
		_, err := r.ArrayLen()
		*dst = nil
		return err
	}
	n, err := r.ArrayLen()
	if err != nil {
		return err
	}
	evs := make([]RecordedEvent, n)
	var rep repeats
	for i := range evs {
		if err := evs[i].decodeWith(r, &rep); err != nil {
			return err
		}
	}
	*dst = evs
	return nil
}

func (p *ReadReply) decodeRaw(r *msgp.Reader) error {
	return fields(r, func(k []byte) (bool, error) {
		switch string(k) {
		case "events":
			return true, events(r, &p.Events)
		case "next_revision":
			return true, set(&p.NextRevision, r.Uint)
		case "end_of_stream":
			return true, set(&p.EndOfStream, r.Bool)
		case "last_revision":
			return true, set(&p.LastRevision, r.Uint)
		}
		return false, nil
	})
}

func (p *ReadAllReply) decodeRaw(r *msgp.Reader) error {
	return fields(r, func(k []byte) (bool, error) {
		switch string(k) {
		case "events":
			return true, events(r, &p.Events)
		case "next_position":
			return true, set(&p.NextPosition, r.Uint)
		case "end_of_store":
			return true, set(&p.EndOfStore, r.Bool)
		}
		return false, nil
	})
}

func (d *Delivery) decodeRaw(r *msgp.Reader) error {
	return fields(r, func(k []byte) (bool, error) {
		switch string(k) {
		case "subscription":
			return true, set(&d.Subscription, r.String)
		case "event":
			return true, d.Event.decodeRaw(r)
		case "delivery_count":
			return true, set(&d.DeliveryCount, r.Uint)
		case "redelivered":
			return true, set(&d.Redelivered, r.Bool)
		case "replay":
			return true, set(&d.Replay, r.Bool)
		}
		return false, nil
	})
}

// ReadAllPage is a ReadAllReply whose events stay encoded until Events is
// called. A catch-up subscription asks for its next page as soon as it
// knows where that page starts, then decodes this page while the server
// reads the next one.
type ReadAllPage struct {
	NextPosition uint64
	EndOfStore   bool
	Count        int    // events in the page
	events       []byte // the encoded array of events (nil: none)
}

func (p *ReadAllPage) decodeRaw(r *msgp.Reader) error {
	return fields(r, func(k []byte) (bool, error) {
		switch string(k) {
		case "events":
			start := r.Rest()
			n, err := msgp.NewReader(start).ArrayLen()
			if err != nil {
				return true, err
			}
			if err := r.Skip(); err != nil {
				return true, err
			}
			p.Count = n
			p.events = start[:len(start)-len(r.Rest())]
			return true, nil
		case "next_position":
			return true, set(&p.NextPosition, r.Uint)
		case "end_of_store":
			return true, set(&p.EndOfStore, r.Bool)
		}
		return false, nil
	})
}

// Events decodes the page's events, as UnmarshalReply decodes a
// ReadAllReply's.
func (p *ReadAllPage) Events() ([]RecordedEvent, error) {
	var evs []RecordedEvent
	if p.events == nil {
		return evs, nil
	}
	if err := events(msgp.NewReader(p.events), &evs); err != nil {
		return nil, codes.New(codes.InvalidArgument, "%s", clip(err.Error(), maxDecodeDetail))
	}
	return evs, nil
}

// AppendRecordedEvent appends what Marshal writes for a RecordedEvent with
// these fields, the id given as its 16 bytes and the strings as bytes: a
// server transcodes stored events into a reply without making them
// RecordedEvents first. data and meta are written as given (nil as nil).
func AppendRecordedEvent(b []byte, id [16]byte, stream, typ []byte, revision, position uint64, timestamp int64, data, dataCT, meta, metaCT []byte) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	hex.Encode(text[9:13], id[4:6])
	hex.Encode(text[14:18], id[6:8])
	hex.Encode(text[19:23], id[8:10])
	hex.Encode(text[24:], id[10:])
	text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
	return appendEvent(b, text[:], stream, typ, revision, position, timestamp, data, dataCT, meta, metaCT)
}

// EncodedEvents is an array of N events already encoded (by
// AppendRecordedEvent, one after the other in B); it encodes as the array
// of RecordedEvents it holds.
type EncodedEvents struct {
	N int
	B []byte
}

// EncodeMsgpack writes the array header and the events as they are.
func (e EncodedEvents) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(e.N); err != nil {
		return err
	}
	_, err := enc.Writer().Write(e.B)
	return err
}

// ReadReplyEncoded is a ReadReply whose events are already encoded: it
// encodes to the bytes of the ReadReply with those events.
type ReadReplyEncoded struct {
	Events       EncodedEvents `msgpack:"events"`
	NextRevision uint64        `msgpack:"next_revision"`
	EndOfStream  bool          `msgpack:"end_of_stream"`
	LastRevision uint64        `msgpack:"last_revision"`
}

// ReadAllReplyEncoded is a ReadAllReply whose events are already encoded:
// it encodes to the bytes of the ReadAllReply with those events.
type ReadAllReplyEncoded struct {
	Events       EncodedEvents `msgpack:"events"`
	NextPosition uint64        `msgpack:"next_position"`
	EndOfStore   bool          `msgpack:"end_of_store"`
}

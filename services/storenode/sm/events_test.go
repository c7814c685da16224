package sm

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/uuid"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// slowEvent is toEvent by the reflection decoder alone.
func slowEvent(t *testing.T, b []byte, pos uint64) Event {
	t.Helper()
	var r eventRecord
	if err := decode(b, &r); err != nil {
		t.Fatal(err)
	}
	return Event{ID: uuid.UUID(r.ID).String(), Stream: r.Stream, Type: r.Type, Revision: r.Revision, Position: pos,
		Timestamp: r.Timestamp, Data: nonNil(r.Data), DataContentType: r.DataContentType,
		Metadata: nonNil(r.Metadata), MetadataContentType: r.MetadataContentType}
}

// The hand reader of stored records gives what the reflection decoder gives.
func TestReadRecordMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	blob := func() []byte {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, []int{5, 200, 70000}[r.IntN(3)])
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for i := range 200 {
		rec := eventRecord{Stream: string(blob()), Type: "T", Revision: []uint64{0, 9, math.MaxUint64}[i%3],
			Timestamp: []int64{0, -5, math.MaxInt64}[i%3], Data: blob(), DataContentType: "application/json",
			Metadata: blob(), MetadataContentType: string(blob())}
		copy(rec.ID[:], blob())
		b := encode(&rec)
		parsed, ok := parseRecord(b)
		got := parsed.event(uint64(i))
		if !ok {
			t.Fatalf("record %d not read by hand", i)
		}
		if want := slowEvent(t, b, uint64(i)); !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got, want)
		}
		// The payloads are the event's own, not the buffer's.
		for k := range b {
			b[k] = 0
		}
		if !reflect.DeepEqual(got.Data, nonNil(rec.Data)) {
			t.Fatalf("record %d: data changed with the buffer", i)
		}
	}
}

// A record with compact integers and the id as a str (not what encode
// writes) reads the same by hand as by reflection; a broken one is an error.
func TestToEventOtherShapesAndCorruption(t *testing.T) {
	id := uuid.New()
	b, err := msgpack.Marshal([]any{string(id[:]), "s", "T", 3, -4, []byte("d"), "", nil, ""})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := toEvent(b, 1)
	if want := slowEvent(t, b, 1); err != nil || !reflect.DeepEqual(ev, want) || ev.ID != id.String() || ev.Timestamp != -4 {
		t.Fatalf("toEvent: %+v %v, want %+v", ev, err, want)
	}
	for _, bad := range [][]byte{{0x99, 0xc4}, {0x98}, b[:len(b)-1], append(b[:len(b):len(b)], 0xc0)} {
		if _, ok := parseRecord(bad); ok {
			t.Fatalf("%x read by hand", bad)
		}
	}
	if _, err := toEvent([]byte{0x99, 0xc4}, 1); err == nil {
		t.Fatal("a truncated record decoded")
	}
}

// A page of $all read encoded (ReadAll.Encoded) is, byte for byte, the
// reply the page of Events makes, whatever the page's bounds: count,
// direction, the reply size limit, an empty store's end.
func TestReadAllEncodedIsTheSameReply(t *testing.T) {
	s := openLimited(t, 3000)
	same := func(q ReadAll) {
		t.Helper()
		plain, enc := lookupBoth[*AllPage](t, s, q, func() any { q.Encoded = true; return q })
		want, _ := wire.Marshal(&wire.ReadAllReply{Events: wireOf(plain.Events), NextPosition: plain.NextPosition, EndOfStore: plain.EndOfStore})
		var got []byte
		if enc.Encoded == nil {
			got, _ = wire.Marshal(&wire.ReadAllReply{Events: []wire.RecordedEvent{}, NextPosition: enc.NextPosition, EndOfStore: enc.EndOfStore})
		} else {
			got, _ = wire.Marshal(&wire.ReadAllReplyEncoded{Events: *enc.Encoded, NextPosition: enc.NextPosition, EndOfStore: enc.EndOfStore})
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v: encoded page differs:\n got %x\nwant %x", q, got, want)
		}
	}
	same(ReadAll{Count: 10}) // an empty store
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 40 {
		c := appendCmd(fmt.Sprintf("s-%d", i%3), ExpectAny, 0, 1+r.IntN(3))
		for k := range c.Events {
			switch r.IntN(3) {
			case 0:
				c.Events[k].Data, c.Events[k].Metadata = nil, nil
			case 1:
				c.Events[k].Data = make([]byte, r.IntN(900))
				c.Events[k].DataContentType, c.Events[k].Metadata, c.Events[k].MetadataContentType = "application/json", []byte("m"), "text/plain"
			}
		}
		if _, err := s.Update([]dbsm.Entry{entry(t, uint64(i+1), int64(i)*1000-7, c)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []uint64{0, 1, 17, 79, 1000} {
		for _, count := range []int{1, 5, 4096} {
			f := from
			same(ReadAll{From: &f, Count: count})
			same(ReadAll{From: &f, Count: count, Backward: true})
		}
	}
	same(ReadAll{Count: 4096, Backward: true})
}

// A page of a stream read encoded (ReadStream.Encoded) is, byte for byte,
// the reply the page of Events makes.
func TestReadStreamEncodedIsTheSameReply(t *testing.T) {
	s := openLimited(t, 2500)
	r := rand.New(rand.NewPCG(13, 14))
	for i := range 30 {
		c := appendCmd(fmt.Sprintf("s-%d", i%2), ExpectAny, 0, 1+r.IntN(3))
		if r.IntN(2) == 0 {
			c.Events[0].Data, c.Events[0].Metadata = make([]byte, r.IntN(700)), nil
		}
		if _, err := s.Update([]dbsm.Entry{entry(t, uint64(i+1), int64(i), c)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []uint64{0, 3, 29, 500} {
		for _, count := range []int{1, 4, 4096} {
			for _, backward := range []bool{false, true} {
				f := from
				q := ReadStream{Stream: "s-1", From: &f, Count: count, Backward: backward}
				plain, enc := lookupBoth[*StreamPage](t, s, q, func() any { q.Encoded = true; return q })
				want, _ := wire.Marshal(&wire.ReadReply{Events: wireOf(plain.Events), NextRevision: plain.NextRevision, EndOfStream: plain.EndOfStream, LastRevision: plain.LastRevision})
				var got []byte
				if enc.Encoded == nil {
					got, _ = wire.Marshal(&wire.ReadReply{Events: []wire.RecordedEvent{}, NextRevision: enc.NextRevision, EndOfStream: enc.EndOfStream, LastRevision: enc.LastRevision})
				} else {
					got, _ = wire.Marshal(&wire.ReadReplyEncoded{Events: *enc.Encoded, NextRevision: enc.NextRevision, EndOfStream: enc.EndOfStream, LastRevision: enc.LastRevision})
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%+v: encoded page differs", q)
				}
			}
		}
	}
}

// lookupBoth answers q, then the same query with Encoded set (set turns it
// on), failing the test on an error.
func lookupBoth[P any](t *testing.T, s *StateMachine, q any, set func() any) (plain, enc P) {
	t.Helper()
	a, err := s.Lookup(q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Lookup(set())
	if err != nil {
		t.Fatal(err)
	}
	return a.(P), b.(P)
}

func wireOf(evs []Event) []wire.RecordedEvent {
	out := make([]wire.RecordedEvent, len(evs))
	for i := range evs {
		out[i] = wire.RecordedEvent(evs[i])
	}
	return out
}

// openLimited opens a state machine whose replies stop at maxReply bytes.
func openLimited(t *testing.T, maxReply int) *StateMachine {
	limits := wire.DefaultLimits()
	limits.MaxReplySize = maxReply
	s := New(testEngine(t, t.TempDir()), 1, 1, "", limits)
	if _, err := s.Open(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

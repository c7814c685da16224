package wire

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The reflection path's view of the same types: defined types do not
// inherit RecordedEvent's EncodeMsgpack, nor the replies' decodeRaw.
type (
	plainEvent   RecordedEvent
	plainReadAll struct {
		Events       []plainEvent `msgpack:"events"`
		NextPosition uint64       `msgpack:"next_position"`
		EndOfStore   bool         `msgpack:"end_of_store"`
	}
	plainRead struct {
		Events       []plainEvent `msgpack:"events"`
		NextRevision uint64       `msgpack:"next_revision"`
		EndOfStream  bool         `msgpack:"end_of_stream"`
		LastRevision uint64       `msgpack:"last_revision"`
	}
	plainDelivery struct {
		Subscription  string     `msgpack:"subscription"`
		Event         plainEvent `msgpack:"event"`
		DeliveryCount uint64     `msgpack:"delivery_count"`
		Redelivered   bool       `msgpack:"redelivered,omitempty"`
		Replay        bool       `msgpack:"replay,omitempty"`
	}
)

// reflectMarshal encodes v as Marshal does, by reflection.
func reflectMarshal(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reflectUnmarshal(data []byte, v any) error {
	return msgpack.NewDecoder(bytes.NewReader(data)).Decode(v)
}

func sampleEvents(r *rand.Rand, n int) []RecordedEvent {
	ints := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MaxUint64}
	blob := func() []byte {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, []int{1, 31, 300, 70000}[r.IntN(4)])
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	str := func() string { return string(blob()) }
	evs := make([]RecordedEvent, n)
	for i := range evs {
		evs[i] = RecordedEvent{
			ID: "0b5f6c2e-1c7d-4a8e-9f3b-2d4e6f8a0b1c", Stream: str(), Type: str(),
			Revision: ints[r.IntN(len(ints))], Position: ints[r.IntN(len(ints))],
			Timestamp: []int64{0, -1, -33, -129, -40000, math.MinInt64, math.MaxInt64, 1796086702657593932}[r.IntN(8)],
			Data:      blob(), DataContentType: str(), Metadata: blob(), MetadataContentType: str(),
		}
	}
	return evs
}

func toPlain(evs []RecordedEvent) []plainEvent {
	out := make([]plainEvent, len(evs))
	for i := range evs {
		out[i] = plainEvent(evs[i])
	}
	return out
}

// A RecordedEvent encodes to exactly the bytes of the reflection encoder.
func TestRecordedEventEncodesAsReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ev := range sampleEvents(r, 300) {
		got, err := Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if want := reflectMarshal(t, plainEvent(ev)); !bytes.Equal(got, want) {
			t.Fatalf("event %+v:\n got %x\nwant %x", ev, got, want)
		}
	}
	evs := sampleEvents(r, 20)
	got, err := Marshal(&ReadAllReply{Events: evs, NextPosition: 7, EndOfStore: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := reflectMarshal(t, &plainReadAll{Events: toPlain(evs), NextPosition: 7, EndOfStore: true}); !bytes.Equal(got, want) {
		t.Fatal("a page encodes differently from the reflection encoder")
	}
}

// The replies that decode themselves give what the reflection decoder gives,
// for pages written by Marshal and for hand-made variants (nil events,
// unknown keys, keys in another order, integers in wide forms).
func TestEventRepliesDecodeAsReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(name string, data []byte, fast, slow any, eq func() bool) {
		t.Helper()
		if err := UnmarshalReply(data, fast); err != nil {
			t.Fatalf("%s: fast path: %v", name, err)
		}
		if err := reflectUnmarshal(data, slow); err != nil {
			t.Fatalf("%s: reflection: %v", name, err)
		}
		if !eq() {
			t.Fatalf("%s: fast %+v\nreflection %+v", name, fast, slow)
		}
	}
	for i := range 50 {
		evs := sampleEvents(r, r.IntN(5))
		if i == 0 {
			evs = nil
		}
		data := reflectMarshal(t, &plainReadAll{Events: toPlain(evs), NextPosition: uint64(i) * 1000, EndOfStore: i%2 == 0})
		var fa ReadAllReply
		var sa plainReadAll
		check("read_all", data, &fa, &sa, func() bool {
			return reflect.DeepEqual(toPlain(fa.Events), sa.Events) && fa.NextPosition == sa.NextPosition && fa.EndOfStore == sa.EndOfStore
		})
		data = reflectMarshal(t, &plainRead{Events: toPlain(evs), NextRevision: uint64(i), EndOfStream: i%3 == 0, LastRevision: math.MaxUint64})
		var fr ReadReply
		var sr plainRead
		check("read", data, &fr, &sr, func() bool {
			return reflect.DeepEqual(toPlain(fr.Events), sr.Events) && fr.NextRevision == sr.NextRevision &&
				fr.EndOfStream == sr.EndOfStream && fr.LastRevision == sr.LastRevision
		})
		if len(evs) > 0 {
			data = reflectMarshal(t, &plainDelivery{Subscription: "s", Event: plainEvent(evs[0]), DeliveryCount: uint64(i + 1), Redelivered: i%2 == 1, Replay: i%5 == 0})
			var fd Delivery
			var sd plainDelivery
			check("delivery", data, &fd, &sd, func() bool {
				return plainEvent(fd.Event).equal(sd.Event) && fd.Subscription == sd.Subscription &&
					fd.DeliveryCount == sd.DeliveryCount && fd.Redelivered == sd.Redelivered && fd.Replay == sd.Replay
			})
		}
	}
	// Hand-made: unknown keys of every kind, wide integers, nil values, another order.
	page := map[string]any{
		"future":        map[string]any{"a": []any{1, "x", nil, 2.5, true}, "b": []byte{1}},
		"end_of_store":  nil,
		"next_position": uint64(5),
		"events": []any{
			map[string]any{"position": int64(9), "extra": []any{map[string]any{}}, "id": "i", "data": nil, "timestamp": uint64(3), "revision": int8(2)},
			map[string]any{"stream": []byte("bin stream"), "metadata": "str metadata"},
			nil,
		},
	}
	data := reflectMarshal(t, page)
	var fa ReadAllReply
	var sa plainReadAll
	check("hand-made", data, &fa, &sa, func() bool {
		return reflect.DeepEqual(toPlain(fa.Events), sa.Events) && fa.NextPosition == sa.NextPosition && fa.EndOfStore == sa.EndOfStore
	})
}

func (e plainEvent) equal(o plainEvent) bool { return reflect.DeepEqual(e, o) }

// A decoded event owns its payloads: it does not alias the page.
func TestDecodedEventsDoNotAliasThePage(t *testing.T) {
	data, err := Marshal(&ReadAllReply{Events: []RecordedEvent{{ID: "x", Data: []byte("payload"), Metadata: []byte("meta")}}})
	if err != nil {
		t.Fatal(err)
	}
	var p ReadAllReply
	if err := UnmarshalReply(data, &p); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0
	}
	if string(p.Events[0].Data) != "payload" || string(p.Events[0].Metadata) != "meta" {
		t.Fatalf("event changed with the page: %+v", p.Events[0])
	}
}

// Whatever the bytes, the fast decoders never panic; where the reflection
// decoder reads a page of well-typed values, they read the same.
func FuzzDecodeEventPage(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 4 {
		b, _ := Marshal(&ReadAllReply{Events: sampleEvents(r, 2), NextPosition: 3})
		f.Add(b)
	}
	f.Add([]byte("\x81\xa4ents\x90")) // no events key: nil on both paths
	f.Add([]byte("\x81\xa6events\x90"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fa ReadAllReply
		fastErr := UnmarshalReply(data, &fa)
		var sa plainReadAll
		if fastErr == nil && reflectUnmarshal(data, &sa) == nil && !samePage(&fa, &sa) {
			t.Fatalf("fast %+v\nreflection %+v", fa, sa)
		}
		var fd Delivery
		_ = UnmarshalReply(data, &fd)
	})
}

// A ReadAllPage holds what a ReadAllReply holds, its events decoded later.
func TestReadAllPageDecodesLater(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i, evs := range [][]RecordedEvent{nil, {}, sampleEvents(r, 1), sampleEvents(r, 17)} {
		data, err := Marshal(&ReadAllReply{Events: evs, NextPosition: uint64(i), EndOfStore: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		var full ReadAllReply
		var page ReadAllPage
		if err := UnmarshalReply(data, &full); err != nil {
			t.Fatal(err)
		}
		if err := UnmarshalReply(data, &page); err != nil {
			t.Fatal(err)
		}
		got, err := page.Events()
		if err != nil || page.Count != len(full.Events) || page.NextPosition != full.NextPosition || page.EndOfStore != full.EndOfStore ||
			!reflect.DeepEqual(toPlain(got), toPlain(full.Events)) {
			t.Fatalf("page %d: %+v %v, want %+v", i, page, err, full)
		}
	}
	var page ReadAllPage
	if err := UnmarshalReply([]byte{0x81, 0xa6, 'e', 'v', 'e', 'n', 't', 's', 0x91, 0x05}, &page); err != nil {
		t.Fatal(err)
	}
	if _, err := page.Events(); err == nil {
		t.Fatal("an event that is a number decoded")
	}
}

// samePage compares what both decoders read: events (nil and empty alike
// mean none; each decoder keeps the same one for the same input, and the
// tests above check that), the next position and the end.
func samePage(fa *ReadAllReply, sa *plainReadAll) bool {
	if len(fa.Events) != len(sa.Events) || fa.NextPosition != sa.NextPosition || fa.EndOfStore != sa.EndOfStore {
		return false
	}
	for i := range fa.Events {
		if !reflect.DeepEqual(plainEvent(fa.Events[i]), sa.Events[i]) {
			return false
		}
	}
	return true
}

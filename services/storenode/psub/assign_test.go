package psub

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

func TestRoundRobinSpreadsInNameOrderAndRotates(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("c", "a", "b") // joined out of order: the rotation is by name
	h.read(4, ev("s-1", 0), ev("s-1", 1), ev("s-2", 2), ev("s-3", 3))
	expectSent(t, h.d.Dispatch(), "a:0#1", "b:1#1", "c:2#1", "a:3#1")
	// The rotation goes on where it stopped.
	h.read(6, ev("s-1", 4), ev("s-1", 5))
	expectSent(t, h.d.Dispatch(), "b:4#1", "c:5#1")
}

func TestRoundRobinSkipsConsumersWithoutRoom(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 1, 3)})
	h.join("a", "b")
	h.read(5, ev("s", 0), ev("s", 1), ev("s", 2), ev("s", 3), ev("s", 4))
	expectSent(t, h.d.Dispatch(), "a:0#1", "b:1#1")
	expectSent(t, h.d.Dispatch()) // nobody has room
	h.ack("b", wire.ActionAck, 1)
	expectSent(t, h.d.Dispatch(), "b:2#1") // a is still full
	h.ack("a", wire.ActionAck, 0)
	h.ack("b", wire.ActionAck, 2)
	expectSent(t, h.d.Dispatch(), "a:3#1", "b:4#1")
}

func TestInFlightLimitAndInfo(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 2, 3)})
	h.join("a")
	h.read(5, ev("s", 0), ev("s", 1), ev("s", 2), ev("s", 3), ev("s", 4))
	expectSent(t, h.d.Dispatch(), "a:0#1", "a:1#1")
	i := info(h.d, 1)
	if i.InFlight != 2 || i.Waiting != 3 || len(i.Consumers) != 1 || i.Consumers[0] != (wire.ConsumerInfo{Consumer: "a", InFlight: 2}) {
		t.Fatalf("info: %+v", i)
	}
	if i := info(h.d, 2); i.InFlight != 0 || i.Consumers != nil {
		t.Fatalf("info of another generation filled in: %+v", i)
	}
	h.join("b")
	expectSent(t, h.d.Dispatch(), "b:2#1", "b:3#1")
}

func TestPinnedKeepsEachStreamOnOneConsumerOneAtATime(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyPinned, 100, 3)})
	h.join("a", "b", "c")
	var events []wire.RecordedEvent
	for i := range 60 {
		events = append(events, ev(fmt.Sprintf("s-%d", i%20), uint64(i)))
	}
	h.read(60, events...)
	owner := map[string]string{}
	for round := 0; round < 3; round++ {
		ds := h.d.Dispatch()
		if len(ds) != 20 {
			t.Fatalf("round %d: %d deliveries, want one per stream (20)", round, len(ds))
		}
		for _, d := range ds {
			st, c := d.Message.Event.Stream, d.Subject
			if want := uint64(round*20) + uint64(d.Message.Event.Position%20); d.Message.Event.Position != want {
				t.Fatalf("stream %s: position %d delivered, want %d (in order)", st, d.Message.Event.Position, want)
			}
			if o, ok := owner[st]; ok && o != c {
				t.Fatalf("stream %s moved from %s to %s", st, o, c)
			}
			owner[st] = c
		}
		expectSent(t, h.d.Dispatch()) // the next event of a stream waits for the ack
		for _, d := range ds {
			h.ack(d.Subject[len("_INBOX."):], wire.ActionAck, int64(d.Message.Event.Position))
		}
	}
	used := map[string]bool{}
	for _, c := range owner {
		used[c] = true
	}
	if len(used) != 3 {
		t.Fatalf("20 streams spread over %d of 3 consumers", len(used))
	}
}

// The pinned hash is part of the behaviour (a stream stays where it was
// across leader changes): these choices must not change.
func TestPinnedHashIsStable(t *testing.T) {
	cs := []*consumer{{id: "a"}, {id: "b"}, {id: "c"}}
	want := map[string]string{"order-1": "b", "order-2": "a", "account-7": "b", "x": "c"}
	for st, w := range want {
		if got := pinnedConsumer(st, cs).id; got != w {
			t.Errorf("pinned consumer of %q: %s, want %s", st, got, w)
		}
	}
}

func TestPinnedConsumerLeavingMovesOnlyItsStreams(t *testing.T) {
	all := []*consumer{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d"}}
	without := []*consumer{all[0], all[1], all[3]} // c left
	for i := range 500 {
		st := fmt.Sprintf("stream-%d", i)
		before, after := pinnedConsumer(st, all).id, pinnedConsumer(st, without).id
		if before != "c" && before != after {
			t.Fatalf("stream %s moved from %s to %s when c left", st, before, after)
		}
	}
}

func TestPinnedRetryLaterHoldsItsStream(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyPinned, 10, 3)})
	h.join("a")
	h.read(3, ev("s-1", 0), ev("s-1", 1), ev("s-2", 2))
	expectSent(t, h.d.Dispatch(), "a:0#1", "a:2#1")
	if _, err := h.d.Ack("sub", "a", []int64{0}, wire.ActionRetryLater, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	expectSent(t, h.d.Dispatch()) // 1 waits behind 0, which waits for its delay
	h.clk.advance(500 * time.Millisecond)
	h.join("a") // heartbeat
	expectSent(t, h.d.Dispatch(), "a:0#2")
	h.ack("a", wire.ActionAck, 0)
	expectSent(t, h.d.Dispatch(), "a:1#1")
}

func TestReplaysGoToWhoeverHasRoomWithPinned(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyPinned, 10, 3)})
	h.join("a", "b")
	q, err := h.d.StartReplay("sub")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.d.Replay(q, []Parked{{Event: ev("s", 7), DeliveryCount: 4}, {Event: ev("s", 8), DeliveryCount: 4}}); err != nil || n != 2 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	ds := h.d.Dispatch()
	expectSent(t, ds, "a:7#5", "b:8#5") // same stream, yet spread round robin
	if !ds[0].Message.Replay || !ds[0].Message.Redelivered {
		t.Fatalf("replayed delivery not marked: %+v", ds[0].Message)
	}
}

func TestFNV64IsHashFNV(t *testing.T) {
	for _, s := range []string{"", "a", "orders-1", "stream/with/a/long/name/ü"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv64(s), h.Sum64(); got != want {
			t.Fatalf("fnv64(%q) = %x, hash/fnv says %x", s, got, want)
		}
	}
}

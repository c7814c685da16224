package psub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

func TestAckTimeoutRedeliversThenParks(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 1)}) // ack timeout 1 s
	h.join("a", "b")
	h.read(1, ev("s", 0))
	expectSent(t, h.d.Dispatch(), "a:0#1")
	h.clk.advance(time.Second)
	h.join("a", "b")
	expectSent(t, h.d.Dispatch()) // at the deadline, not after it
	h.clk.advance(time.Millisecond)
	expectSent(t, h.d.Dispatch(), "b:0#2") // and a has room again
	if i := info(h.d, 1); i.Consumers[0].InFlight != 0 || i.Consumers[1].InFlight != 1 {
		t.Fatalf("in flight after the timeout: %+v", i.Consumers)
	}
	if _, err := h.d.Ack("sub", "a", []int64{0}, wire.ActionAck, 0); codes.As(err).Code != codes.EventNotInFlight {
		t.Fatalf("late ack by a: %v", err)
	}
	h.clk.advance(time.Second + time.Millisecond)
	h.join("a", "b")
	expectSent(t, h.d.Dispatch()) // max_retries 1: parked after two deliveries
	if p := h.flush(); !slices.Equal(p.Park, []Park{{Position: 0, Reason: wire.ParkedByMaxRetries, DeliveryCount: 2}}) || p.Checkpoint != 1 {
		t.Fatalf("progress: %+v", p)
	}
}

func TestExpiredConsumerEventsGoToAnotherAtTheirTimeout(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("a", "b")
	h.read(2, ev("s", 0), ev("s", 1))
	expectSent(t, h.d.Dispatch(), "a:0#1", "b:1#1")
	for range 4 { // b heartbeats, a does not: gone after 3 × 100 ms
		h.clk.advance(100 * time.Millisecond)
		h.join("b")
		h.d.Dispatch()
	}
	if i := info(h.d, 1); len(i.Consumers) != 1 || i.Consumers[0].Consumer != "b" {
		t.Fatalf("consumers: %+v", i.Consumers)
	}
	h.ack("b", wire.ActionAck, 1)
	expectSent(t, h.d.Dispatch()) // 0 stays with a until its ack timeout
	h.clk.advance(601 * time.Millisecond)
	h.join("b")
	expectSent(t, h.d.Dispatch(), "b:0#2")
}

func TestRejoinCountsEventsStillHeld(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 2, 3)})
	h.join("a")
	h.read(3, ev("s", 0), ev("s", 1), ev("s", 2))
	expectSent(t, h.d.Dispatch(), "a:0#1", "a:1#1")
	h.clk.advance(301 * time.Millisecond)
	h.d.Dispatch() // a expires
	if joined, _ := h.d.Join("sub", "a", "_INBOX.a", 100*time.Millisecond); !joined {
		t.Fatal("a rejoin after expiry is not a join")
	}
	if joined, _ := h.d.Join("sub", "a", "_INBOX.a", 100*time.Millisecond); joined {
		t.Fatal("a heartbeat is a join")
	}
	expectSent(t, h.d.Dispatch()) // the two it holds fill its room
	h.ack("a", wire.ActionAck, 0) // and it may still ack them
	expectSent(t, h.d.Dispatch(), "a:2#1")
}

func TestProgressIsBatched(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 200, 3)})
	h.join("a")
	var events []wire.RecordedEvent
	for i := range 150 {
		events = append(events, ev("s", uint64(i)))
	}
	h.flush() // start a batch now
	h.read(150, events...)
	h.d.Dispatch()
	if due := h.d.Due(); due != nil {
		t.Fatalf("due with nothing settled: %v", due)
	}
	for i := range FlushAcks - 1 {
		h.ack("a", wire.ActionAck, int64(i))
	}
	if due := h.d.Due(); due != nil {
		t.Fatalf("due after %d acks and no time: %v", FlushAcks-1, due)
	}
	h.ack("a", wire.ActionAck, FlushAcks-1)
	if due := h.d.Due(); !slices.Equal(due, []string{"sub"}) {
		t.Fatalf("not due after %d acks: %v", FlushAcks, due)
	}
	if p := h.flush(); p.Checkpoint != FlushAcks {
		t.Fatalf("checkpoint %d", p.Checkpoint)
	}
	h.ack("a", wire.ActionAck, FlushAcks)
	h.clk.advance(FlushEvery - time.Millisecond)
	if due := h.d.Due(); due != nil {
		t.Fatalf("due before %v: %v", FlushEvery, due)
	}
	h.clk.advance(time.Millisecond)
	if due := h.d.Due(); !slices.Equal(due, []string{"sub"}) {
		t.Fatalf("not due after %v: %v", FlushEvery, due)
	}
	h.flush()
	h.clk.advance(time.Hour)
	if due := h.d.Due(); due != nil {
		t.Fatalf("due with nothing new: %v", due)
	}
}

func TestFailedProposalKeepsParksAndGoneSubscriptionReloads(t *testing.T) {
	h := started(t, ev("s", 0), ev("s", 1))
	h.ack("a", wire.ActionPark, 0)
	p, _ := h.d.TakeProgress("sub")
	h.ack("a", wire.ActionPark, 1)
	if h.d.Proposed(p, errors.New("timeout")) {
		t.Fatal("a failed proposal reported recorded")
	}
	p = h.flush()
	if want := []Park{{0, wire.ParkedByNack, 1}, {1, wire.ParkedByNack, 1}}; !slices.Equal(p.Park, want) || p.Checkpoint != 2 {
		t.Fatalf("progress after a failure: %+v", p)
	}
	if h.d.NeedsReload() {
		t.Fatal("reload needed")
	}
	p, _ = h.d.TakeProgress("sub")
	h.d.Proposed(p, NotFound("sub"))
	if !h.d.NeedsReload() || h.d.Live("sub") {
		t.Fatal("a subscription found gone is still live")
	}
	if _, ok := h.d.TakeProgress("sub"); ok {
		t.Fatal("progress of a gone subscription")
	}
	h.d.Load([]Definition{{Name: "sub", Gen: 2, Settings: settings(wire.StrategyRoundRobin, 10, 3)}})
	if h.d.NeedsReload() || !h.d.Live("sub") {
		t.Fatal("the new generation is not live")
	}
}

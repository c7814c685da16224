package psub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

func TestCheckpointAdvancesOnlyOverTheSettledPrefix(t *testing.T) {
	h := resumed(t, 10, 10)
	h.read(14, ev("s", 10), ev("s", 11), ev("s", 13)) // 12 does not match
	expectSent(t, h.d.Dispatch(), "a:10#1", "a:11#1", "a:13#1")
	checkpoint := func(want uint64) {
		t.Helper()
		if p := h.flush(); p.Checkpoint != want {
			t.Fatalf("checkpoint %d, want %d", p.Checkpoint, want)
		}
	}
	checkpoint(10)
	h.ack("a", wire.ActionAck, 11)
	checkpoint(10) // 10 is still in flight
	h.ack("a", wire.ActionSkip, 10)
	checkpoint(13) // 10, 11 settled and 12 not a match
	h.ack("a", wire.ActionAck, 13)
	checkpoint(14) // everything read is settled
}

func TestParkedEventLeavesInTheSameProgressAsTheCheckpointPassingIt(t *testing.T) {
	h := started(t, ev("s", 0), ev("s", 1))
	h.ack("a", wire.ActionPark, 0)
	p := h.flush()
	if p.Checkpoint != 1 || !slices.Equal(p.Park, []Park{{Position: 0, Reason: wire.ParkedByNack, DeliveryCount: 1}}) {
		t.Fatalf("progress: %+v", p)
	}
	if p := h.flush(); p.Park != nil {
		t.Fatalf("a recorded park proposed again: %+v", p)
	}
}

func TestNackRetryThenParkAfterMaxRetries(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 2)})
	h.join("a")
	h.read(1, ev("s", 0))
	expectSent(t, h.d.Dispatch(), "a:0#1")
	h.ack("a", wire.ActionRetry, 0)
	ds := h.d.Dispatch()
	expectSent(t, ds, "a:0#2")
	if !ds[0].Message.Redelivered {
		t.Fatal("a retry is not marked redelivered")
	}
	h.ack("a", wire.ActionRetry, 0)
	expectSent(t, h.d.Dispatch(), "a:0#3") // max_retries 2: three deliveries
	if r := h.ack("a", wire.ActionRetry, 0); r.Done != 1 {
		t.Fatalf("reply %+v", r)
	}
	expectSent(t, h.d.Dispatch())
	p := h.flush()
	if p.Checkpoint != 1 || !slices.Equal(p.Park, []Park{{Position: 0, Reason: wire.ParkedByMaxRetries, DeliveryCount: 3}}) {
		t.Fatalf("progress: %+v", p)
	}
}

func TestRetryLaterWaitsForItsDelay(t *testing.T) {
	h := started(t, ev("s", 0))
	if _, err := h.d.Ack("sub", "a", []int64{0}, wire.ActionRetryLater, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	h.clk.advance(199 * time.Millisecond)
	expectSent(t, h.d.Dispatch())
	h.clk.advance(time.Millisecond)
	expectSent(t, h.d.Dispatch(), "a:0#2")
}

func TestAckErrors(t *testing.T) {
	h := newHarness(t, Definition{Checkpoint: 5, High: 5, Settings: settings(wire.StrategyRoundRobin, 1, 3)})
	h.join("a", "b")
	h.read(8, ev("s", 5), ev("s", 6), ev("s", 7))
	expectSent(t, h.d.Dispatch(), "a:5#1", "b:6#1")
	h.ack("a", wire.ActionAck, 5)
	code := func(err error) codes.Code {
		if err == nil {
			return 0
		}
		return codes.As(err).Code
	}
	for _, c := range []struct {
		consumer  string
		positions []int64
		want      codes.Code
	}{
		{"z", []int64{6}, codes.ConsumerNotFound},
		{"a", []int64{5}, codes.EventAlreadyAcked},     // acked
		{"a", []int64{2, 5}, codes.EventAlreadyAcked},  // below the checkpoint, acked
		{"a", []int64{6}, codes.EventNotInFlight},      // b holds it
		{"a", []int64{7}, codes.EventNotInFlight},      // waiting
		{"a", []int64{5, 100}, codes.EventNotInFlight}, // not read
	} {
		if _, err := h.d.Ack("sub", c.consumer, c.positions, wire.ActionAck, 0); code(err) != c.want {
			t.Errorf("ack %v by %s: %v, want code %d", c.positions, c.consumer, err, c.want)
		}
	}
	r := h.ack("b", wire.ActionAck, 5, 6, 7)
	if r.Done != 1 || !slices.Equal(r.NotInFlight, []uint64{5, 7}) {
		t.Fatalf("reply %+v", r)
	}
	if _, err := h.d.Ack("nope", "a", []int64{5}, wire.ActionAck, 0); code(err) != codes.SubscriptionNotFound {
		t.Fatalf("ack on an unknown subscription: %v", err)
	}
	if _, err := h.d.Join("nope", "a", "_INBOX.a", time.Second); code(err) != codes.SubscriptionNotFound {
		t.Fatalf("join of an unknown subscription: %v", err)
	}
}

// One proposal per subscription at a time: while one is in flight, its
// progress is not due and cannot be taken again, and settling goes on; once
// it is back, the next proposal carries what was settled meanwhile.
func TestOneProgressInFlightAtATime(t *testing.T) {
	h := started(t, ev("s", 0), ev("s", 1), ev("s", 2))
	h.ack("a", wire.ActionAck, 0)
	h.clk.advance(FlushEvery)
	if due := h.d.Due(); len(due) != 1 {
		t.Fatalf("due %v, want sub", due)
	}
	p, ok := h.d.TakeProgress("sub")
	if !ok || p.Checkpoint != 1 {
		t.Fatalf("took %+v, %v", p, ok)
	}
	h.ack("a", wire.ActionAck, 1)
	h.clk.advance(FlushEvery)
	if due := h.d.Due(); len(due) != 0 {
		t.Fatalf("due %v while a proposal is in flight", due)
	}
	if _, ok := h.d.TakeProgress("sub"); ok {
		t.Fatal("a second progress taken while one is in flight")
	}
	if !h.d.Proposed(p, nil) {
		t.Fatal("progress not recorded")
	}
	if due := h.d.Due(); len(due) != 1 {
		t.Fatalf("due %v once the proposal is back, want sub", due)
	}
	if p := h.flush(); p.Checkpoint != 2 {
		t.Fatalf("next checkpoint %d, want 2", p.Checkpoint)
	}
	// A failed proposal gives the subscription back too.
	h.ack("a", wire.ActionAck, 2)
	p, _ = h.d.TakeProgress("sub")
	h.d.Proposed(p, errors.New("not written"))
	if p, ok := h.d.TakeProgress("sub"); !ok || p.Checkpoint != 3 {
		t.Fatalf("after a failed proposal took %+v, %v", p, ok)
	}
}

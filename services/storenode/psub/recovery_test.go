package psub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

func TestReplayOfParkedEvents(t *testing.T) {
	h := newHarness(t, Definition{Checkpoint: 10, High: 10, Settings: settings(wire.StrategyRoundRobin, 10, 1)})
	h.join("a")
	q, err := h.d.StartReplay("sub")
	if err != nil || len(q.Skip) != 0 {
		t.Fatalf("start: %+v %v", q, err)
	}
	n, err := h.d.Replay(q, []Parked{{ev("s", 2), 2}, {ev("s", 3), 2}, {ev("s", 4), 1}})
	if err != nil || n != 3 {
		t.Fatalf("replay: %d %v", n, err)
	}
	ds := h.d.Dispatch()
	expectSent(t, ds, "a:2#3", "a:3#3", "a:4#2")
	if !ds[0].Message.Replay {
		t.Fatal("not marked replay")
	}
	// Replays in progress are left out of the next read, and not queued twice.
	q, _ = h.d.StartReplay("sub")
	if len(q.Skip) != 3 || !q.Skip[2] || !q.Skip[3] || !q.Skip[4] {
		t.Fatalf("skip %v", q.Skip)
	}
	if n, _ := h.d.Replay(q, []Parked{{ev("s", 2), 2}}); n != 0 {
		t.Fatalf("a replay in progress queued again (%d)", n)
	}
	h.ack("a", wire.ActionAck, 2)   // leaves the park
	h.ack("a", wire.ActionRetry, 3) // fresh allowance: max_retries 1 → two deliveries
	expectSent(t, h.d.Dispatch(), "a:3#4")
	h.ack("a", wire.ActionRetry, 3) // used up: parked again
	h.ack("a", wire.ActionPark, 4)
	// An unparked event not yet replicated is not replayed again.
	q, _ = h.d.StartReplay("sub")
	if n, _ := h.d.Replay(q, []Parked{{ev("s", 2), 2}}); n != 0 {
		t.Fatalf("an unparked event replayed again (%d)", n)
	}
	p := h.flush()
	want := []Park{{3, wire.ParkedByMaxRetries, 4}, {4, wire.ParkedByNack, 2}}
	if !slices.Equal(p.Unpark, []uint64{2}) || !slices.Equal(p.Park, want) || p.Checkpoint != 10 {
		t.Fatalf("progress %+v", p)
	}
	// A replay started before the subscription was replaced fails.
	q, _ = h.d.StartReplay("sub")
	h.d.Load([]Definition{{Name: "sub", Gen: 2, Settings: settings(wire.StrategyRoundRobin, 10, 1)}})
	if _, err := h.d.Replay(q, []Parked{{ev("s", 5), 1}}); err == nil {
		t.Fatal("replay into a replaced subscription")
	}
}

func TestRestoreFromProgressMarksPossibleRedeliveries(t *testing.T) {
	h := resumed(t, 5, 8)
	if props := h.read(10, ev("s", 5), ev("s", 7), ev("s", 8), ev("s", 9)); len(props) != 1 {
		t.Fatalf("proposals %+v", props)
	}
	ds := h.d.Dispatch()
	expectSent(t, ds, "a:5#2", "a:7#2", "a:8#1", "a:9#1")
	if !ds[0].Message.Redelivered || ds[2].Message.Redelivered {
		t.Fatalf("redelivered flags: %+v", ds)
	}
	if p := h.flush(); p.Checkpoint != 5 {
		t.Fatalf("checkpoint %d before any ack", p.Checkpoint)
	}
}

func TestHighWaterMarkIsReplicatedBeforeDeliveringBeyondIt(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("a")
	jobs := h.d.ReadJobs()
	if len(jobs) != 1 || jobs[0].From != 0 || jobs[0].Room != Buffer {
		t.Fatalf("jobs %+v", jobs)
	}
	j := jobs[0]
	sc := Scan{Events: []wire.RecordedEvent{ev("s", 0), ev("s", 1)}, Next: 2, Head: 2}
	raise, ok := h.d.Scanned(&j, sc)
	if !raise || !ok {
		t.Fatalf("scanned: raise %v ok %v", raise, ok)
	}
	if h.d.Accept(&j, sc); len(h.d.Dispatch()) != 0 {
		t.Fatal("delivered beyond a high-water mark not replicated")
	}
	p, _ := h.d.TakeProgress("sub")
	if p.High != 2+HighReserve {
		t.Fatalf("high-water mark proposed: %d", p.High)
	}
	h.d.Proposed(p, errors.New("lost"))
	if h.d.Accept(&j, sc) {
		t.Fatal("accepted after the proposal failed")
	}
	expectSent(t, h.d.Dispatch())
	// Read again: the mark is still wanted, and now replicated.
	props := h.read(2, ev("s", 0), ev("s", 1))
	if len(props) != 1 || props[0].High != 2+HighReserve {
		t.Fatalf("proposals %+v", props)
	}
	expectSent(t, h.d.Dispatch(), "a:0#1", "a:1#1")
	// Below the replicated mark, reading costs no proposal.
	if props := h.read(HighReserve, ev("s", 5), ev("s", 9)); len(props) != 0 {
		t.Fatalf("proposals below the mark: %+v", props)
	}
	if props := h.read(HighReserve+10, ev("s", HighReserve+5)); len(props) != 1 || props[0].High != HighReserve+10+HighReserve {
		t.Fatalf("proposals beyond the mark: %+v", props)
	}
}

func TestLoadKeepsStateOfTheSameGeneration(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("a")
	h.read(3, ev("s", 0), ev("s", 1), ev("s", 2))
	expectSent(t, h.d.Dispatch(), "a:0#1", "a:1#1", "a:2#1")
	// New settings apply to later deliveries; the deliveries stay.
	h.d.Load([]Definition{{Name: "sub", Gen: 1, Settings: Settings{MaxInFlight: 10, AckTimeout: 5 * time.Second, MaxRetries: 3}}})
	h.ack("a", wire.ActionRetry, 0)
	expectSent(t, h.d.Dispatch(), "a:0#2")
	h.clk.advance(time.Second + time.Millisecond)
	h.join("a")
	expectSent(t, h.d.Dispatch(), "a:1#2", "a:2#2") // delivered under the 1 s timeout
	// A new generation starts from its own checkpoint, with no consumers.
	h.d.Load([]Definition{{Name: "sub", Gen: 2, Checkpoint: 7, High: 7, Settings: settings(wire.StrategyRoundRobin, 10, 3)}})
	if i := info(h.d, 2); i.InFlight != 0 || i.Waiting != 0 || len(i.Consumers) != 0 {
		t.Fatalf("new generation info %+v", i)
	}
	if jobs := h.d.ReadJobs(); len(jobs) != 1 || jobs[0].From != 7 {
		t.Fatalf("jobs %+v", jobs)
	}
	h.d.Load(nil)
	if !h.d.Empty() || h.d.Live("sub") {
		t.Fatal("a deleted subscription stays loaded")
	}
}

func TestReadAheadLimits(t *testing.T) {
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	var events []wire.RecordedEvent
	for i := range Buffer + 100 {
		events = append(events, ev("s", uint64(i)))
	}
	h.read(uint64(len(events)), events...)
	if jobs := h.d.ReadJobs(); len(jobs) != 0 {
		t.Fatalf("a full buffer reads on: %+v", jobs)
	}
	if i := info(h.d, 1); i.Waiting != Buffer {
		t.Fatalf("buffered %d, want %d", i.Waiting, Buffer)
	}
	// Room again, but nothing new since: read only if the head is beyond.
	h.join("a")
	h.d.Dispatch()
	h.ack("a", wire.ActionAck, 0)
	if jobs := h.d.ReadJobs(); len(jobs) != 1 || jobs[0].From != Buffer || jobs[0].Room != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
	// Caught up with the head: no job until the head moves.
	at := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	at.read(3, ev("s", 0), ev("s", 1), ev("s", 2))
	if jobs := at.d.ReadJobs(); len(jobs) != 0 {
		t.Fatalf("jobs at head: %+v", jobs)
	}
	at.d.HeadMoved()
	if jobs := at.d.ReadJobs(); len(jobs) != 1 || jobs[0].From != 3 || jobs[0].Room != Buffer-3 {
		t.Fatalf("jobs after the head moved: %+v", jobs)
	}
	// A scan that sees a further head makes the next round read too.
	at.d.HeadMoved()
	j := at.d.ReadJobs()
	if _, ok := at.d.Scanned(&j[0], Scan{Next: 3, Head: 5}); ok {
		t.Fatal("a scan finding nothing goes on")
	}
	if jobs := at.d.ReadJobs(); len(jobs) != 1 || jobs[0].From != 3 {
		t.Fatalf("jobs behind a head seen: %+v", jobs)
	}

	// The payload bound: reading stops once the buffer holds BufferBytes
	// (the manager's scans bring one 4 MiB event each here).
	big := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	jobs := big.d.ReadJobs()
	scans := 0
	for {
		e := ev("s", jobs[0].From)
		e.Data = make([]byte, 4<<20)
		sc := Scan{Events: []wire.RecordedEvent{e}, Next: e.Position + 1, Head: 10}
		if raise, _ := big.d.Scanned(&jobs[0], sc); raise {
			p, _ := big.d.TakeProgress("sub")
			big.d.Proposed(p, nil)
		}
		scans++
		if !big.d.Accept(&jobs[0], sc) {
			break
		}
	}
	if scans != 4 || len(big.d.ReadJobs()) != 0 {
		t.Fatalf("%d scans of 4 MiB before stopping, want 4", scans)
	}
}

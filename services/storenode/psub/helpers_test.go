package psub

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// clock is a fake clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func settings(strategy string, maxInFlight, maxRetries int64) Settings {
	return Settings{MaxInFlight: maxInFlight, AckTimeout: time.Second, MaxRetries: maxRetries, Strategy: strategy}
}

// harness is a Deliverer on a fake clock with one subscription, "sub".
type harness struct {
	t   *testing.T
	clk *clock
	d   *Deliverer
}

func newHarness(t *testing.T, def Definition) *harness {
	t.Helper()
	clk := newClock()
	d := New(clk.now)
	if def.Name == "" {
		def.Name = "sub"
	}
	if def.Gen == 0 {
		def.Gen = 1
	}
	d.Load([]Definition{def})
	return &harness{t: t, clk: clk, d: d}
}

// ev is an event of stream at pos.
func ev(stream string, pos uint64) wire.RecordedEvent {
	return wire.RecordedEvent{Stream: stream, Position: pos, Type: "t", Data: []byte("x")}
}

// read runs the read-ahead of the manager once, with the store holding
// events (in position order, all matching) and its next position head;
// proposals of the high-water mark succeed. It returns the proposals made.
func (h *harness) read(head uint64, events ...wire.RecordedEvent) []Progress {
	h.t.Helper()
	h.d.HeadMoved()
	var props []Progress
	for _, j := range h.d.ReadJobs() {
		for {
			var sc Scan
			sc.Head, sc.Next = head, j.From
			for _, e := range events {
				if e.Position >= j.From && len(sc.Events) < j.Room {
					sc.Events = append(sc.Events, e)
					sc.Next = e.Position + 1
				}
			}
			if len(sc.Events) < j.Room {
				sc.Next = max(sc.Next, head)
			}
			raise, ok := h.d.Scanned(&j, sc)
			if !ok {
				break
			}
			if raise {
				p, ok := h.d.TakeProgress(j.Name)
				if !ok {
					h.t.Fatalf("no progress to take for %s", j.Name)
				}
				props = append(props, p)
				if !h.d.Proposed(p, nil) {
					h.t.Fatalf("progress not recorded")
				}
			}
			if !h.d.Accept(&j, sc) {
				break
			}
		}
	}
	return props
}

// resumed is a harness restored from a checkpoint and high-water mark,
// with consumer "a" joined (max_in_flight 10, max_retries 3).
func resumed(t *testing.T, checkpoint, high uint64) *harness {
	t.Helper()
	h := newHarness(t, Definition{Checkpoint: checkpoint, High: high, Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("a")
	return h
}

// started is a harness whose consumer "a" was handed events, read up to the
// last one (one consumer, max_in_flight 10, max_retries 3).
func started(t *testing.T, events ...wire.RecordedEvent) *harness {
	t.Helper()
	h := newHarness(t, Definition{Settings: settings(wire.StrategyRoundRobin, 10, 3)})
	h.join("a")
	h.read(events[len(events)-1].Position+1, events...)
	if ds := h.d.Dispatch(); len(ds) != len(events) {
		t.Fatalf("%d deliveries of %d events", len(ds), len(events))
	}
	return h
}

// join joins consumer id with deliver subject "_INBOX."+id and a 100 ms heartbeat.
func (h *harness) join(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		if _, err := h.d.Join("sub", id, "_INBOX."+id, 100*time.Millisecond); err != nil {
			h.t.Fatalf("join %s: %v", id, err)
		}
	}
}

func (h *harness) ack(id, action string, positions ...int64) *wire.AckReply {
	h.t.Helper()
	r, err := h.d.Ack("sub", id, positions, action, 0)
	if err != nil {
		h.t.Fatalf("%s %v by %s: %v", action, positions, id, err)
	}
	return r
}

// flush takes and records the progress of sub, whether due or not.
func (h *harness) flush() Progress {
	h.t.Helper()
	p, ok := h.d.TakeProgress("sub")
	if !ok {
		h.t.Fatal("subscription not live")
	}
	h.d.Proposed(p, nil)
	return p
}

// sent is a delivery in short: "consumer:position#count".
func sent(ds []Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s:%d#%d", d.Subject[len("_INBOX."):], d.Message.Event.Position, d.Message.DeliveryCount))
	}
	return out
}

func expectSent(t *testing.T, got []Delivery, want ...string) {
	t.Helper()
	if g := sent(got); !slices.Equal(g, want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("deliveries:\n got %v\nwant %v", g, want)
	}
}

func info(d *Deliverer, gen uint64) wire.SubscriptionInfo {
	i := wire.SubscriptionInfo{Subscription: "sub"}
	d.Info("sub", gen, &i)
	return i
}

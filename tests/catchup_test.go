package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/nats.go"
)

// received collects what a catch-up subscription delivers.
type received struct {
	mu       sync.Mutex
	events   []client.RecordedEvent
	statuses []client.Status
	delay    atomic.Int64 // handler sleep per event, in ns
}

func (r *received) handle(e *client.RecordedEvent) {
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	r.mu.Lock()
	r.events = append(r.events, *e)
	r.mu.Unlock()
}

func (r *received) status(s client.Status) {
	r.mu.Lock()
	r.statuses = append(r.statuses, s)
	r.mu.Unlock()
}

func (r *received) snapshot() ([]client.RecordedEvent, []client.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.RecordedEvent(nil), r.events...), append([]client.Status(nil), r.statuses...)
}

func (r *received) hasStatus(kind client.StatusKind, reasons ...string) bool {
	_, sts := r.snapshot()
	for _, s := range sts {
		if s.Kind != kind {
			continue
		}
		if len(reasons) == 0 {
			return true
		}
		for _, reason := range reasons {
			if s.Reason == reason {
				return true
			}
		}
	}
	return false
}

// waitFor waits until the subscription has delivered exactly want (by
// position, in order), failing on a duplicate, a reordering or a timeout.
func (r *received) waitFor(t *testing.T, sub *client.Subscription, want []client.RecordedEvent) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := r.snapshot()
		for i := 1; i < len(got); i++ {
			if got[i].Position <= got[i-1].Position {
				t.Fatalf("event at %d delivered after %d (duplicate or out of order)", got[i].Position, got[i-1].Position)
			}
		}
		if len(got) >= len(want) {
			time.Sleep(200 * time.Millisecond) // room for a wrong extra event
			got, _ = r.snapshot()
			if !reflect.DeepEqual(positions(got), positions(want)) {
				t.Fatalf("delivered %d events %v\nwant %d: %v", len(got), short(positions(got)), len(want), short(positions(want)))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("delivered events differ from the stored ones")
			}
			return
		}
		select {
		case <-sub.Done():
			t.Fatalf("subscription ended after %d of %d events: %v", len(got), len(want), sub.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events after 30s", len(got), len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func positions(evs []client.RecordedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func short(p []uint64) string {
	if len(p) > 40 {
		return fmt.Sprint(p[:20], " … ", p[len(p)-20:])
	}
	return fmt.Sprint(p)
}

// storedMatching reads every stored event matching f, the reference.
func storedMatching(t *testing.T, s *client.Store, f client.SubscribeFilter) []client.RecordedEvent {
	t.Helper()
	if f.Stream != "" {
		var out []client.RecordedEvent
		from := uint64(0)
		for {
			p, err := s.Read(ctxT(t), f.Stream, client.ReadOptions{From: &from, MaxCount: 1000})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p.Events...)
			if p.EndOfStream {
				return out
			}
			from = p.NextRevision
		}
	}
	var rf *client.Filter
	switch {
	case f.Category != "":
		rf = &client.Filter{Category: f.Category}
	case f.EventType != "":
		rf = &client.Filter{EventTypes: []string{f.EventType}}
	}
	return readAllForward(t, s, rf, 1000)
}

// appendMix appends events to streams of categories order and user, of
// types Placed and Shipped, n appends of 1 to 3 events each.
func appendMix(ctx context.Context, s *client.Store, worker, n int) error {
	for i := range n {
		cat := "order"
		if i%3 == 2 {
			cat = "user"
		}
		evs := []client.Event{ev("Placed", fmt.Sprint(worker, i))}
		for range i % 3 {
			evs = append(evs, ev("Shipped", fmt.Sprint(worker, i)))
		}
		if _, err := s.Append(ctx, fmt.Sprintf("%s-%d", cat, (worker+i)%4), client.Any, evs...); err != nil {
			return err
		}
	}
	return nil
}

// Catch-up over a history of several pages, with appends running while the
// subscription switches to live, delivers every event exactly once in order,
// for $all, a stream, a category and a type.
func TestCatchUpSwitchToLive(t *testing.T) {
	in := startLogbook(t)
	for w := range 4 {
		if err := appendMix(ctxT(t), in.Store, w, 60); err != nil { // ~480 events
			t.Fatal(err)
		}
	}
	filters := map[string]client.SubscribeFilter{
		"all":      {},
		"stream":   {Stream: "order-1"},
		"category": {Category: "order"},
		"type":     {EventType: "Shipped"},
	}
	const page = 20
	recs := map[string]*received{}
	subs := map[string]*client.Subscription{}
	// Appends run before, during and after the subscriptions start. Each
	// append runs to its end (a cancelled one could still commit later).
	var stopped atomic.Bool
	stop := func() { stopped.Store(true) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for !stopped.Load() {
				if err := appendMix(ctxT(t), in.Store, 10+w, 3); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	for name, f := range filters {
		r := &received{}
		sub, err := in.Store.Subscribe(ctxT(t), 0, f, r.handle, client.PageSize(page), client.StatusHandler(r.status), client.IdleCheck(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Stop)
		recs[name], subs[name] = r, sub
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	for name, f := range filters {
		want := storedMatching(t, in.Store, f)
		if len(want) <= 3*page {
			t.Fatalf("%s: only %d events to check, not more than 3 pages", name, len(want))
		}
		recs[name].waitFor(t, subs[name], want)
		if !recs[name].hasStatus(client.StatusCaughtUp) {
			t.Errorf("%s: never reported caught up", name)
		}
	}
	// And it goes on live after the switch.
	if err := appendMix(ctxT(t), in.Store, 1, 6); err != nil {
		t.Fatal(err)
	}
	for name, f := range filters {
		recs[name].waitFor(t, subs[name], storedMatching(t, in.Store, f))
	}
}

// A subscription from a position (a revision for a stream) starts there, and
// FromEnd skips the history.
func TestCatchUpFromPosition(t *testing.T) {
	in := startLogbook(t)
	if err := appendMix(ctxT(t), in.Store, 0, 30); err != nil {
		t.Fatal(err)
	}
	all := storedMatching(t, in.Store, client.SubscribeFilter{})
	stream := storedMatching(t, in.Store, client.SubscribeFilter{Stream: "order-1"})
	rAll, rStream, rEnd := &received{}, &received{}, &received{}
	sAll, err := in.Store.Subscribe(ctxT(t), 17, client.SubscribeFilter{}, rAll.handle, client.PageSize(7))
	if err != nil {
		t.Fatal(err)
	}
	defer sAll.Stop()
	sStream, err := in.Store.Subscribe(ctxT(t), 3, client.SubscribeFilter{Stream: "order-1"}, rStream.handle, client.PageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer sStream.Stop()
	sEnd, err := in.Store.Subscribe(ctxT(t), client.FromEnd, client.SubscribeFilter{}, rEnd.handle, client.StatusHandler(rEnd.status))
	if err != nil {
		t.Fatal(err)
	}
	defer sEnd.Stop()
	for !rEnd.hasStatus(client.StatusCaughtUp) {
		time.Sleep(5 * time.Millisecond)
	}
	rAll.waitFor(t, sAll, all[17:])
	rStream.waitFor(t, sStream, stream[3:])
	if _, err := in.Store.Append(ctxT(t), "order-1", client.Any, ev("Late", "x")); err != nil {
		t.Fatal(err)
	}
	all = storedMatching(t, in.Store, client.SubscribeFilter{})
	rEnd.waitFor(t, sEnd, all[len(all)-1:])
	rAll.waitFor(t, sAll, all[17:])
}

// Events missed while the subscriber was disconnected by a restart of
// Logbook (embedded NATS included) are found and delivered, once each.
func TestCatchUpFillsGapAfterRestart(t *testing.T) {
	in := startLogbook(t)
	// The subscriber reconnects slowly, so that appends right after the
	// restart are certainly missed live.
	c, err := client.Connect(in.natsURL, client.WithNATSOptions(nats.MaxReconnects(-1), nats.ReconnectWait(3*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &received{}
	sub, err := c.Store("default").Subscribe(ctxT(t), 0, client.SubscribeFilter{Category: "order"}, r.handle,
		client.StatusHandler(r.status), client.IdleCheck(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	if err := appendMix(ctxT(t), in.Store, 0, 20); err != nil {
		t.Fatal(err)
	}
	f := client.SubscribeFilter{Category: "order"}
	r.waitFor(t, sub, storedMatching(t, in.Store, f))
	in.restart()
	if err := appendMix(ctxT(t), in.Store, 1, 20); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, sub, storedMatching(t, in.Store, f))
	if !r.hasStatus(client.StatusFellBehind, client.ReasonIdleCheck, client.ReasonPositionJump, client.ReasonEpochChange) {
		_, sts := r.snapshot()
		t.Fatalf("the gap was never reported: %+v", sts)
	}
	// Live again afterwards.
	if err := appendMix(ctxT(t), in.Store, 2, 5); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, sub, storedMatching(t, in.Store, f))
}

// A handler too slow for the live rate makes nats.go drop messages; the
// subscription notices and reads what it lost.
func TestCatchUpFillsSlowConsumerGap(t *testing.T) {
	in := startLogbook(t)
	r := &received{}
	sub, err := in.Store.Subscribe(ctxT(t), 0, client.SubscribeFilter{}, r.handle,
		client.StatusHandler(r.status), client.PendingLimits(10, 1<<20), client.IdleCheck(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	for !r.hasStatus(client.StatusCaughtUp) {
		time.Sleep(5 * time.Millisecond)
	}
	r.delay.Store(int64(2 * time.Millisecond))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			if err := appendMix(ctxT(t), in.Store, w, 40); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r.delay.Store(0)
	// The last events may all have been dropped: one more append shows the
	// jump (the idle check is set long so that it does not do the work).
	if _, err := in.Store.Append(ctxT(t), "order-9", client.Any, ev("Last", "x")); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, sub, storedMatching(t, in.Store, client.SubscribeFilter{}))
	if !r.hasStatus(client.StatusFellBehind, client.ReasonSlowConsumer, client.ReasonPositionJump) {
		_, sts := r.snapshot()
		t.Fatalf("no slow-consumer gap was reported: %+v", sts)
	}
}

func TestCatchUpRejectsBadInput(t *testing.T) {
	in := startLogbook(t)
	nop := func(*client.RecordedEvent) {}
	cases := []struct {
		name   string
		store  *client.Store
		filter client.SubscribeFilter
		h      func(*client.RecordedEvent)
		opts   []client.SubscribeOption
		want   codes.Code
	}{
		{"two filters", in.Store, client.SubscribeFilter{Stream: "a-1", Category: "a"}, nop, nil, codes.InvalidArgument},
		{"bad stream", in.Store, client.SubscribeFilter{Stream: "a\x00"}, nop, nil, codes.InvalidStream},
		{"bad type", in.Store, client.SubscribeFilter{EventType: "t\n"}, nop, nil, codes.InvalidEventType},
		{"bad category", in.Store, client.SubscribeFilter{Category: "c\x01"}, nop, nil, codes.InvalidArgument},
		{"category with a dash", in.Store, client.SubscribeFilter{Category: "order-1"}, nop, nil, codes.InvalidArgument},
		{"no handler", in.Store, client.SubscribeFilter{}, nil, nil, codes.InvalidArgument},
		{"page size", in.Store, client.SubscribeFilter{}, nop, []client.SubscribeOption{client.PageSize(0)}, codes.InvalidArgument},
		{"idle", in.Store, client.SubscribeFilter{}, nop, []client.SubscribeOption{client.IdleCheck(0)}, codes.InvalidArgument},
		{"bad store", in.Client.Store("Bad.Store"), client.SubscribeFilter{}, nop, nil, codes.InvalidStoreID},
	}
	for _, c := range cases {
		sub, err := c.store.Subscribe(ctxT(t), 0, c.filter, c.h, c.opts...)
		if sub != nil {
			sub.Stop()
		}
		var e *codes.Error
		if !errors.As(err, &e) || e.Code != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want.Name())
		}
	}
	// A store that does not exist ends the subscription with store_not_found.
	sub, err := in.Client.Store("nosuch").Subscribe(ctxT(t), 0, client.SubscribeFilter{}, nop)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the subscription to an unknown store did not end")
	}
	if !errors.Is(sub.Err(), codes.ErrStoreNotFound) {
		t.Fatalf("unknown store: %v", sub.Err())
	}
}

// In a three-node cluster, stopping the leader of a store while events are
// appended moves publication to the new leader, under a new epoch, and the
// catch-up subscriptions still deliver every event once, in order.
func TestCatchUpAcrossLeaderChange(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	store := c.Client.Store("default")
	nc, err := nats.Connect(c.url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	raw := collectLive(t, nc, "events.default.>")
	filters := map[string]client.SubscribeFilter{"all": {}, "category": {Category: "order"}, "type": {EventType: "Shipped"}}
	recs, subs := map[string]*received{}, map[string]*client.Subscription{}
	for name, f := range filters {
		r := &received{}
		sub, err := store.Subscribe(ctx, 0, f, r.handle, client.PageSize(30), client.StatusHandler(r.status), client.IdleCheck(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Stop()
		recs[name], subs[name] = r, sub
	}
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; !stopped.Load(); i++ {
				if err := appendMix(ctxT(t), store, 100*w+i, 3); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	def := ledInView(t, c, "default")
	c.stop(def.Leader)
	eventually(t, 20*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "default")
		if err != nil || s.Leader == 0 || s.Leader == def.Leader {
			return fmt.Errorf("default store %+v %v", s, err)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	stopped.Store(true)
	wg.Wait()
	for name, f := range filters {
		want := storedMatching(t, store, f)
		if len(want) == 0 {
			t.Fatalf("%s: no event to check", name)
		}
		recs[name].waitFor(t, subs[name], want)
		_, sts := recs[name].snapshot()
		t.Logf("%s: %d events, statuses %v", name, len(want), sts)
	}
	// The raw subscriber saw two publishers: the old leader's epoch, then
	// the new one's, which starts at or before the first event it sends.
	all := storedMatching(t, store, client.SubscribeFilter{})
	epochs := map[string]bool{}
	for _, m := range raw.wait(1) {
		epochs[m.h.Epoch] = true
		if m.h.EpochStart > m.h.Position {
			t.Fatalf("headers %+v", m.h)
		}
	}
	if len(epochs) < 2 {
		t.Fatalf("%d epochs seen over %d events and a leader change", len(epochs), len(all))
	}
}

// A catch-up of $all reads the page after the next one before the next one
// arrives, guessing that full pages follow each other; pages cut short by
// the reply size limit make some guesses wrong. Every event still comes
// once and in order.
func TestCatchUpWithPagesCutShort(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) {
		c.Limits = wire.Limits{MaxReplySize: 3000}
	})
	ctx := ctxT(t)
	for i := range 60 {
		size := 10 // small events fill a page of 4 by count; large ones are cut by size
		if i%7 < 3 {
			size = 900
		}
		if _, err := in.Store.Append(ctx, fmt.Sprintf("s-%d", i%5), client.Any, client.Event{Type: "T", Data: bytes.Repeat([]byte{byte('a' + i%26)}, size)}); err != nil {
			t.Fatal(err)
		}
	}
	all := storedMatching(t, in.Store, client.SubscribeFilter{})
	r := &received{}
	sub, err := in.Store.Subscribe(ctx, 0, client.SubscribeFilter{}, r.handle, client.PageSize(4))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	r.waitFor(t, sub, all)
}

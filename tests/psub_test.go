package tests

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Persistent subscriptions, end to end: through the gateway, on real
// dragonboat and Pebble, with consumers using the Go client.

func i64p(v int64) *int64 { return &v }

// settings builds subscription settings for tests (short timeouts).
func settings(maxInFlight, ackTimeoutMs, maxRetries int64, strategy string) *client.SubscriptionSettings {
	return &client.SubscriptionSettings{MaxInFlight: &maxInFlight, AckTimeoutMs: &ackTimeoutMs, MaxRetries: &maxRetries, Strategy: strategy}
}

// createSub creates a subscription from the start of the store.
func createSub(t *testing.T, s *client.Store, name string, set *client.SubscriptionSettings) {
	t.Helper()
	if _, err := s.CreateSubscription(ctxT(t), name, client.SubscriptionOptions{Settings: set}); err != nil {
		t.Fatalf("create subscription %s: %v", name, err)
	}
}

// startSubscription starts a Logbook and creates a subscription on its
// default store; consumers are added with the returned consumers' start.
func startSubscription(t *testing.T, name string, set *client.SubscriptionSettings) (*client.Store, *consumers) {
	t.Helper()
	s := startLogbook(t).Store
	createSub(t, s, name, set)
	return s, newConsumers(t)
}

// reconnectingStore connects a client of its own to in, which reconnects
// across restarts of in, and returns its default store. The client is closed
// with the test, after the consumers.
func reconnectingStore(t *testing.T, in *instance) *client.Store {
	t.Helper()
	c, err := client.Connect(in.natsURL, client.WithNATSOptions(nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.Store("default")
}

// delivery is one message as a test consumer saw it.
type delivery struct {
	consumer    string
	stream      string
	typ         string
	pos, rev    uint64
	count       uint64
	redelivered bool
	replay      bool
	at          time.Time
}

// consumers runs test consumers and records what they receive.
type consumers struct {
	t   *testing.T
	mu  sync.Mutex
	got []delivery
	wg  sync.WaitGroup
}

func newConsumers(t *testing.T) *consumers {
	cs := &consumers{t: t}
	t.Cleanup(cs.wg.Wait)
	return cs
}

// start runs one consumer until its returned cancel is called; handle
// decides what to do with each message (it is recorded first).
func (cs *consumers) start(s *client.Store, sub, id string, hb time.Duration, handle func(ctx context.Context, m *client.Message)) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	cs.t.Cleanup(cancel)
	cs.wg.Go(func() {
		err := s.Consume(ctx, sub, func(ctx context.Context, m *client.Message) {
			cs.mu.Lock()
			cs.got = append(cs.got, delivery{id, m.Event.Stream, m.Event.Type, m.Event.Position, m.Event.Revision, m.DeliveryCount, m.Redelivered, m.Replay, time.Now()})
			cs.mu.Unlock()
			handle(ctx, m)
		}, client.ConsumeOptions{Consumer: id, Heartbeat: hb})
		if err != nil && ctx.Err() == nil {
			cs.t.Errorf("consumer %s: %v", id, err)
		}
	})
	return cancel
}

func (cs *consumers) snapshot() []delivery {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.got)
}

func ackAll(ctx context.Context, m *client.Message) { _ = m.Ack(ctx) }

func appendEvents(t *testing.T, s *client.Store, stream, typ string, n int) {
	t.Helper()
	evs := make([]client.Event, n)
	for i := range evs {
		evs[i] = ev(typ, fmt.Sprintf("%s-%d", stream, i))
	}
	if _, err := s.Append(ctxT(t), stream, client.Any, evs...); err != nil {
		t.Fatal(err)
	}
}

func subInfo(t *testing.T, s *client.Store, name string) *client.SubscriptionInfo {
	t.Helper()
	info, err := s.SubscriptionInfo(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func waitCheckpoint(t *testing.T, s *client.Store, name string, want uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("checkpoint %d", want), func() bool { return subInfo(t, s, name).Checkpoint == want })
}

func TestPersistentManagement(t *testing.T) {
	in := startLogbook(t)
	s := in.Store
	appendEvents(t, s, "order-1", "Placed", 3)
	info, err := s.CreateSubscription(ctxT(t), "orders", client.SubscriptionOptions{
		Filter: &client.SubscriptionFilter{Category: "order", EventTypes: []string{"Placed"}}, FromEnd: true,
		Settings: settings(7, 1500, 4, client.Pinned)})
	if err != nil {
		t.Fatal(err)
	}
	want := client.SubscriptionInfo{Subscription: "orders", Filter: client.SubscriptionFilter{Category: "order", EventTypes: []string{"Placed"}},
		StartPosition: 3, Settings: *settings(7, 1500, 4, client.Pinned), Created: info.Created, Updated: info.Created,
		Checkpoint: 3, Consumers: []wire.ConsumerInfo{}}
	if !reflect.DeepEqual(*info, want) {
		t.Fatalf("create = %+v\nwant %+v", *info, want)
	}
	// The same definition again: success, existed.
	again, err := s.CreateSubscription(ctxT(t), "orders", client.SubscriptionOptions{
		Filter: &client.SubscriptionFilter{Category: "order", EventTypes: []string{"Placed"}}, FromEnd: true,
		Settings: settings(7, 1500, 4, client.Pinned)})
	if err != nil || !again.Existed || again.StartPosition != 3 {
		t.Fatalf("create again = %+v, %v", again, err)
	}
	// Defaults.
	all, err := s.CreateSubscription(ctxT(t), "all", client.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *all.Settings.MaxInFlight != wire.DefaultMaxInFlight || *all.Settings.AckTimeoutMs != wire.DefaultAckTimeoutMs ||
		*all.Settings.MaxRetries != wire.DefaultMaxRetries || all.Settings.Strategy != client.RoundRobin || all.StartPosition != 0 {
		t.Fatalf("defaults: %+v", all.Settings)
	}
	from := uint64(2)
	if p, err := s.CreateSubscription(ctxT(t), "from-2", client.SubscriptionOptions{FromPosition: &from}); err != nil || p.Checkpoint != 2 {
		t.Fatalf("from position: %+v, %v", p, err)
	}
	// Update changes only what is given.
	up, err := s.UpdateSubscription(ctxT(t), "orders", client.SubscriptionSettings{MaxRetries: i64p(9)})
	if err != nil {
		t.Fatal(err)
	}
	if *up.Settings.MaxRetries != 9 || *up.Settings.MaxInFlight != 7 || up.Settings.Strategy != client.Pinned || up.Updated < up.Created {
		t.Fatalf("update: %+v", up)
	}
	list, err := s.ListSubscriptions(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Subscription)
	}
	if !slices.Equal(names, []string{"all", "from-2", "orders"}) {
		t.Fatalf("list: %v", names)
	}
	if err := s.DeleteSubscription(ctxT(t), "from-2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteSubscription(ctxT(t), "from-2"), codes.SubscriptionNotFound)
	if _, err := s.SubscriptionInfo(ctxT(t), "from-2"); !errors.Is(err, client.ErrSubscriptionNotFound) {
		t.Fatalf("info after delete: %v", err)
	}
	// A deleted name can be created again, from scratch.
	if p, err := s.CreateSubscription(ctxT(t), "from-2", client.SubscriptionOptions{FromEnd: true}); err != nil || p.Existed || p.Checkpoint != 3 {
		t.Fatalf("re-create: %+v, %v", p, err)
	}

	// The filter and the start decide what is delivered: "orders" started at
	// the end (3) and takes Placed events of the order category only.
	appendEvents(t, s, "order-2", "Placed", 2)   // 3, 4
	appendEvents(t, s, "order-2", "Shipped", 1)  // 5
	appendEvents(t, s, "invoice-1", "Placed", 1) // 6
	appendEvents(t, s, "orderx-1", "Placed", 1)  // 7: category orderx
	appendEvents(t, s, "order-3", "Placed", 1)   // 8
	cs := newConsumers(t)
	defer cs.start(s, "orders", "o", 100*time.Millisecond, ackAll)()
	waitCheckpoint(t, s, "orders", 9)
	var got []uint64
	for _, d := range cs.snapshot() {
		got = append(got, d.pos)
	}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{3, 4, 8}) {
		t.Fatalf("orders delivered %v, want [3 4 8]", got)
	}
}

// Two competing consumers share the events, round robin, and each event is
// acked exactly once.
func TestPersistentRoundRobinCompetingConsumers(t *testing.T) {
	s, cs := startSubscription(t, "work", settings(10, 10_000, 3, client.RoundRobin))
	var mu sync.Mutex
	acked := map[uint64]int{}
	handle := func(ctx context.Context, m *client.Message) {
		if err := m.Ack(ctx); err != nil {
			t.Errorf("ack %d: %v", m.Event.Position, err)
			return
		}
		mu.Lock()
		acked[m.Event.Position]++
		mu.Unlock()
	}
	cs.start(s, "work", "a", 100*time.Millisecond, handle)
	cs.start(s, "work", "b", 100*time.Millisecond, handle)
	waitFor(t, "two consumers", func() bool { return len(subInfo(t, s, "work").Consumers) == 2 })
	const n = 200
	for i := range n / 10 {
		appendEvents(t, s, fmt.Sprintf("job-%d", i%7), "Job", 10)
	}
	waitFor(t, "every event acked", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) == n })
	waitCheckpoint(t, s, "work", n)
	got := cs.snapshot()
	per := map[string]int{}
	for _, d := range got {
		per[d.consumer]++
		if d.redelivered || d.count != 1 {
			t.Errorf("position %d delivered with count %d, redelivered %v", d.pos, d.count, d.redelivered)
		}
	}
	if len(got) != n {
		t.Errorf("%d deliveries for %d events", len(got), n)
	}
	for p, k := range acked {
		if k != 1 || p >= n {
			t.Errorf("position %d acked %d times", p, k)
		}
	}
	if per["a"] < n/4 || per["b"] < n/4 {
		t.Errorf("round robin did not share the events: %v", per)
	}
	info := subInfo(t, s, "work")
	if info.InFlight != 0 || info.Waiting != 0 || info.ParkedCount != 0 {
		t.Errorf("after all acks: %+v", info)
	}
}

// With the pinned strategy each stream's events go to one consumer, in order.
func TestPersistentPinnedKeepsStreamsInOrder(t *testing.T) {
	s, cs := startSubscription(t, "pinned", settings(4, 10_000, 3, client.Pinned))
	for _, id := range []string{"p1", "p2", "p3"} {
		cs.start(s, "pinned", id, 100*time.Millisecond, ackAll)
	}
	waitFor(t, "three consumers", func() bool { return len(subInfo(t, s, "pinned").Consumers) == 3 })
	const streams, per = 12, 15
	var wg sync.WaitGroup
	for st := range streams {
		wg.Go(func() {
			for range per / 5 {
				appendEvents(t, s, fmt.Sprintf("acct-%d", st), "Tx", 5)
			}
		})
	}
	wg.Wait()
	waitCheckpoint(t, s, "pinned", streams*per)
	owner := map[string]string{}
	revs := map[string][]uint64{}
	used := map[string]bool{}
	for _, d := range cs.snapshot() {
		if o, ok := owner[d.stream]; ok && o != d.consumer {
			t.Errorf("stream %s went to %s and %s", d.stream, o, d.consumer)
		}
		owner[d.stream] = d.consumer
		used[d.consumer] = true
		revs[d.stream] = append(revs[d.stream], d.rev)
	}
	for st, rs := range revs {
		for i, r := range rs {
			if r != uint64(i) {
				t.Fatalf("stream %s delivered out of order: %v", st, rs)
			}
		}
	}
	if len(revs) != streams || len(used) < 2 {
		t.Errorf("%d streams delivered, to %d consumers", len(revs), len(used))
	}
}

// Nacks: retry (until max_retries, then parked), retry later (after the
// delay), park, skip; then the parked list and replay.
func TestPersistentNackRetryParkSkipAndReplay(t *testing.T) {
	s, cs := startSubscription(t, "nacks", settings(10, 10_000, 2, client.RoundRobin))
	cs.start(s, "nacks", "n1", 100*time.Millisecond, func(ctx context.Context, m *client.Message) {
		var err error
		switch {
		case m.Replay:
			err = m.Ack(ctx)
		case m.Event.Type == "Retry":
			err = m.Nack(ctx, client.Retry, 0)
		case m.Event.Type == "Later" && m.DeliveryCount == 1:
			err = m.Nack(ctx, client.RetryLater, 300*time.Millisecond)
		case m.Event.Type == "Park":
			err = m.Nack(ctx, client.Park, 0)
		case m.Event.Type == "Skip":
			err = m.Nack(ctx, client.Skip, 0)
		default:
			err = m.Ack(ctx)
		}
		if err != nil {
			t.Errorf("settle %d (%s): %v", m.Event.Position, m.Event.Type, err)
		}
	})
	for _, typ := range []string{"Ok", "Retry", "Later", "Park", "Skip", "Ok"} {
		appendEvents(t, s, "n-1", typ, 1)
	}
	waitCheckpoint(t, s, "nacks", 6)
	byPos := map[uint64][]delivery{}
	for _, d := range cs.snapshot() {
		byPos[d.pos] = append(byPos[d.pos], d)
	}
	counts := func(p uint64) (out []uint64) {
		for _, d := range byPos[p] {
			out = append(out, d.count)
		}
		return out
	}
	// Retry: delivered 1 + max_retries times, then parked.
	if c := counts(1); !slices.Equal(c, []uint64{1, 2, 3}) || !byPos[1][1].redelivered {
		t.Errorf("retry deliveries: %v", byPos[1])
	}
	// Retry later: delivered again after the delay.
	if c := counts(2); !slices.Equal(c, []uint64{1, 2}) {
		t.Errorf("retry_later deliveries: %v", c)
	} else if gap := byPos[2][1].at.Sub(byPos[2][0].at); gap < 250*time.Millisecond {
		t.Errorf("retry_later came back after %v, before the 300ms delay", gap)
	}
	for _, p := range []uint64{0, 3, 4, 5} {
		if c := counts(p); !slices.Equal(c, []uint64{1}) {
			t.Errorf("position %d deliveries: %v", p, c)
		}
	}
	info := subInfo(t, s, "nacks")
	if info.ParkedCount != 2 {
		t.Fatalf("parked count %d, want 2", info.ParkedCount)
	}
	page, err := s.ParkedEvents(ctxT(t), "nacks", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.More ||
		page.Events[0].Event.Position != 1 || page.Events[0].Reason != wire.ParkedByMaxRetries || page.Events[0].DeliveryCount != 3 ||
		page.Events[1].Event.Position != 3 || page.Events[1].Reason != wire.ParkedByNack || page.Events[1].DeliveryCount != 1 ||
		page.Events[1].Event.Type != "Park" || page.Events[0].Parked == 0 {
		t.Fatalf("parked: %+v", page)
	}
	// Paging through the park.
	one, err := s.ParkedEvents(ctxT(t), "nacks", nil, 1)
	if err != nil || len(one.Events) != 1 || !one.More {
		t.Fatalf("first parked page: %+v, %v", one, err)
	}
	after := one.Events[0].Event.Position
	two, err := s.ParkedEvents(ctxT(t), "nacks", &after, 1)
	if err != nil || len(two.Events) != 1 || two.More || two.Events[0].Event.Position != 3 {
		t.Fatalf("second parked page: %+v, %v", two, err)
	}

	// Replay: both are delivered again (marked replay), acked, and leave the park.
	n, err := s.ReplayParked(ctxT(t), "nacks", 0)
	if err != nil || n != 2 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	waitFor(t, "the park to empty", func() bool { return subInfo(t, s, "nacks").ParkedCount == 0 })
	page, err = s.ParkedEvents(ctxT(t), "nacks", nil, 0)
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("parked after replay: %+v, %v", page, err)
	}
	var replays []uint64
	for _, d := range cs.snapshot() {
		if d.replay {
			replays = append(replays, d.pos)
			if !d.redelivered {
				t.Errorf("replay of %d not marked redelivered", d.pos)
			}
		}
	}
	slices.Sort(replays)
	if !slices.Equal(replays, []uint64{1, 3}) {
		t.Fatalf("replayed %v, want [1 3]", replays)
	}
	if n, err := s.ReplayParked(ctxT(t), "nacks", 0); err != nil || n != 0 {
		t.Fatalf("replay of an empty park = %d, %v", n, err)
	}
}

// A consumer that vanishes with events in flight: they are delivered again
// to another consumer after the ack timeout, marked redelivered.
func TestPersistentAckTimeoutRedeliversVanishedConsumer(t *testing.T) {
	const ackTimeout = 600 * time.Millisecond
	s, cs := startSubscription(t, "vanish", settings(5, ackTimeout.Milliseconds(), 5, client.RoundRobin))
	stopA := cs.start(s, "vanish", "a", 50*time.Millisecond, func(context.Context, *client.Message) {}) // never acks
	waitFor(t, "consumer a", func() bool { return len(subInfo(t, s, "vanish").Consumers) == 1 })
	appendEvents(t, s, "v-1", "V", 5)
	waitFor(t, "a to hold 5 events", func() bool { return len(cs.snapshot()) == 5 })
	gotA := time.Now()
	stopA()
	if info := subInfo(t, s, "vanish"); info.InFlight+info.Waiting != 5 || info.Checkpoint != 0 {
		t.Fatalf("outstanding after a vanished: %+v", info)
	}
	cs.start(s, "vanish", "b", 50*time.Millisecond, ackAll)
	waitCheckpoint(t, s, "vanish", 5)
	for _, d := range cs.snapshot() {
		switch d.consumer {
		case "a":
			if d.count != 1 {
				t.Errorf("a: %+v", d)
			}
		case "b":
			if d.count != 2 || !d.redelivered {
				t.Errorf("b got %d with count %d, redelivered %v", d.pos, d.count, d.redelivered)
			}
			if d.at.Sub(gotA) < ackTimeout-100*time.Millisecond {
				t.Errorf("redelivered %v after a got it, before the ack timeout", d.at.Sub(gotA))
			}
		}
	}
	info := subInfo(t, s, "vanish")
	if len(info.Consumers) != 1 || info.Consumers[0].Consumer != "b" {
		t.Errorf("consumers after a's lease ran out: %+v", info.Consumers)
	}
}

// The checkpoint is replicated: after a restart (a leader change on one
// node) delivery resumes from it, nothing lost, nothing skipped, and the
// event that was in flight is delivered again marked as such.
func TestPersistentCheckpointSurvivesRestart(t *testing.T) {
	in := startLogbook(t)
	createSub(t, in.Store, "durable", settings(1, 60_000, 5, client.RoundRobin))
	// The consumer has its own connection, which outlives the restart.
	s := reconnectingStore(t, in)
	const n, hold = 40, 20
	appendEvents(t, s, "d-1", "D", n)
	var mu sync.Mutex
	holding := true
	cs := newConsumers(t)
	stop := cs.start(s, "durable", "d", 100*time.Millisecond, func(ctx context.Context, m *client.Message) {
		mu.Lock()
		h := holding
		mu.Unlock()
		if h && m.Event.Position >= hold {
			return // in flight across the restart
		}
		_ = m.Ack(ctx) // acks of deliveries by the old leader may fail: redelivered
	})
	defer stop()
	waitCheckpoint(t, in.Store, "durable", hold)
	waitFor(t, "the held event", func() bool { return len(cs.snapshot()) == hold+1 })
	before := len(cs.snapshot())

	// From now on the consumer acks everything; the event it holds stays
	// unacked (its handler has returned) until the new leader redelivers it.
	mu.Lock()
	holding = false
	mu.Unlock()
	in.restart()
	appendEvents(t, s, "d-2", "D", 5)
	waitCheckpoint(t, in.Store, "durable", n+5)

	got := cs.snapshot()
	seen := map[uint64]bool{}
	for i, d := range got {
		seen[d.pos] = true
		if i < before {
			continue
		}
		if d.pos < hold {
			t.Errorf("position %d, below the checkpoint, was delivered again", d.pos)
		}
		if d.pos == hold && (!d.redelivered || d.count < 2) {
			t.Errorf("the event in flight at the restart came back unmarked: %+v", d)
		}
	}
	for p := uint64(0); p < n+5; p++ {
		if !seen[p] {
			t.Errorf("position %d was never delivered", p)
		}
	}
}

func TestPersistentErrorCodes(t *testing.T) {
	in := startLogbook(t)
	s := in.Store
	ctx := ctxT(t)
	appendEvents(t, s, "e-1", "E", 3)
	_, err := s.CreateSubscription(ctx, "subs", client.SubscriptionOptions{Settings: settings(10, 10_000, 1, "")})
	if err != nil {
		t.Fatal(err)
	}

	// subscription_not_found, from every operation that names one.
	_, err = s.SubscriptionInfo(ctx, "nope")
	wantCode(t, err, codes.SubscriptionNotFound)
	_, err = s.UpdateSubscription(ctx, "nope", client.SubscriptionSettings{MaxRetries: i64p(1)})
	wantCode(t, err, codes.SubscriptionNotFound)
	wantCode(t, s.DeleteSubscription(ctx, "nope"), codes.SubscriptionNotFound)
	_, err = s.ParkedEvents(ctx, "nope", nil, 0)
	wantCode(t, err, codes.SubscriptionNotFound)
	_, err = s.ReplayParked(ctx, "nope", 0)
	wantCode(t, err, codes.SubscriptionNotFound)
	wantCode(t, s.Consume(ctx, "nope", ackAll, client.ConsumeOptions{}), codes.SubscriptionNotFound)
	raw := func(op string, v any) error {
		msg, err := rawRequest(t, in, "store.default."+op, mp(t, v))
		if err != nil {
			t.Fatal(err)
		}
		if e := wire.ErrorFromMsg(msg); e != nil {
			return e
		}
		return nil
	}
	wantCode(t, raw("psub_ack", map[string]any{"subscription": "nope", "consumer": "c", "positions": []int{0}}), codes.SubscriptionNotFound)

	// subscription_already_exists: same name, another definition.
	_, err = s.CreateSubscription(ctx, "subs", client.SubscriptionOptions{FromEnd: true})
	wantCode(t, err, codes.SubscriptionAlreadyExists)

	// invalid_filter.
	for _, f := range []client.SubscriptionFilter{
		{Stream: "$all"}, {Stream: "a\nb"}, {Stream: "order-1", Category: "order"}, {Stream: "order-1", StreamPrefix: "o"},
		{Category: "order-eu"}, {EventTypes: []string{""}}, {StreamPrefix: "bad\x00"},
	} {
		_, err = s.CreateSubscription(ctx, "filtered", client.SubscriptionOptions{Filter: &f})
		wantCode(t, err, codes.InvalidFilter)
	}
	// invalid_subscription_name (subscription and consumer).
	for _, name := range []string{"", "has space", "-dash-first", strings.Repeat("x", 65), "ünï"} {
		_, err = s.CreateSubscription(ctx, name, client.SubscriptionOptions{})
		wantCode(t, err, codes.InvalidSubscriptionName)
	}
	wantCode(t, s.Consume(ctx, "subs", ackAll, client.ConsumeOptions{Consumer: "bad consumer"}), codes.InvalidSubscriptionName)
	// invalid_argument: settings out of range, a deliver subject outside _INBOX., an unknown action.
	for _, st := range []*client.SubscriptionSettings{
		{MaxInFlight: i64p(0)}, {AckTimeoutMs: i64p(1)}, {MaxRetries: i64p(-1)}, {Strategy: "random"},
	} {
		_, err = s.CreateSubscription(ctx, "x", client.SubscriptionOptions{Settings: st})
		wantCode(t, err, codes.InvalidArgument)
	}
	wantCode(t, raw("psub_join", map[string]any{"subscription": "subs", "consumer": "c", "deliver": "store.default.append"}), codes.InvalidArgument)
	wantCode(t, raw("psub_ack", map[string]any{"subscription": "subs", "consumer": "c", "positions": []int{0}, "action": "maybe"}), codes.InvalidArgument)

	// consumer_not_found: an ack from a consumer that never joined.
	wantCode(t, raw("psub_ack", map[string]any{"subscription": "subs", "consumer": "stranger", "positions": []int{0}}), codes.ConsumerNotFound)

	// event_not_in_flight and event_already_acked, with a joined consumer.
	inbox := nats.NewInbox()
	deliveries, err := in.Client.Conn().SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer deliveries.Unsubscribe()
	if err := raw("psub_join", map[string]any{"subscription": "subs", "consumer": "raw", "deliver": inbox, "heartbeat_ms": 60_000}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m, err := deliveries.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		d, err := wire.DecodeDelivery(m.Data)
		if err != nil || d.Subscription != "subs" || d.DeliveryCount != 1 {
			t.Fatalf("delivery %+v, %v", d, err)
		}
	}
	wantCode(t, raw("psub_ack", map[string]any{"subscription": "subs", "consumer": "raw", "positions": []int{99}}), codes.EventNotInFlight)
	if err := raw("psub_ack", map[string]any{"subscription": "subs", "consumer": "raw", "positions": []int{0, 1}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, raw("psub_ack", map[string]any{"subscription": "subs", "consumer": "raw", "positions": []int{1}}), codes.EventAlreadyAcked)
	// Partly in flight: the rest is reported, not an error.
	msg, err := rawRequest(t, in, "store.default.psub_ack", mp(t, map[string]any{"subscription": "subs", "consumer": "raw", "positions": []int{2, 0}, "action": "skip"}))
	if err != nil {
		t.Fatal(err)
	}
	var ar wire.AckReply
	if e := wire.ErrorFromMsg(msg); e != nil || wire.Unmarshal(msg.Data, &ar) != nil || ar.Done != 1 || !slices.Equal(ar.NotInFlight, []uint64{0}) {
		t.Fatalf("partial ack: %+v, %v", ar, wire.ErrorFromMsg(msg))
	}
	waitCheckpoint(t, s, "subs", 3)

	// subscription_limit_reached.
	for i := 1; i < wire.MaxSubscriptions; i++ {
		if _, err := s.CreateSubscription(ctx, fmt.Sprintf("many-%d", i), client.SubscriptionOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.CreateSubscription(ctx, "one-too-many", client.SubscriptionOptions{})
	wantCode(t, err, codes.SubscriptionLimitReached)
	// The same definition of an existing one is still fine at the limit.
	if p, err := s.CreateSubscription(ctx, "many-1", client.SubscriptionOptions{}); err != nil || !p.Existed {
		t.Fatalf("existing at the limit: %+v, %v", p, err)
	}

	// A subscription deleted under a consumer: Consume returns subscription_not_found.
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, "many-1", ackAll, client.ConsumeOptions{Consumer: "doomed", Heartbeat: 50 * time.Millisecond})
	}()
	waitFor(t, "the consumer to join", func() bool { return len(subInfo(t, s, "many-1").Consumers) == 1 })
	if err := s.DeleteSubscription(ctx, "many-1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		wantCode(t, err, codes.SubscriptionNotFound)
	case <-time.After(10 * time.Second):
		t.Fatal("Consume did not return after its subscription was deleted")
	}
}

// Bad input sent with raw NATS gets typed errors and changes nothing stored.
func TestPersistentRawBadInputLeavesDataIntact(t *testing.T) {
	in := startLogbook(t)
	s := in.Store
	appendEvents(t, s, "keep-1", "K", 5)
	createSub(t, s, "keep", settings(10, 10_000, 0, ""))
	cs := newConsumers(t)
	stop := cs.start(s, "keep", "k", 100*time.Millisecond, func(ctx context.Context, m *client.Message) {
		if m.Event.Position == 4 {
			_ = m.Nack(ctx, client.Park, 0)
			return
		}
		_ = m.Ack(ctx)
	})
	waitCheckpoint(t, s, "keep", 5)
	stop()
	cs.wg.Wait()
	beforeEvents := readAllForward(t, s, nil, 100)
	beforeInfo := subInfo(t, s, "keep")
	beforeInfo.Consumers = nil
	beforeParked, err := s.ParkedEvents(ctxT(t), "keep", nil, 0)
	if err != nil || len(beforeParked.Events) != 1 {
		t.Fatalf("parked: %+v, %v", beforeParked, err)
	}

	bad := []struct {
		op   string
		data []byte
		want codes.Code
	}{
		{"psub_create", nil, codes.MalformedRequest},
		{"psub_create", []byte{0xc1}, codes.MalformedRequest},
		{"psub_create", []byte(`{"subscription":"keep"}`), codes.MalformedRequest},
		{"psub_create", mp(t, []any{"keep"}), codes.MalformedRequest},
		{"psub_create", mp(t, map[string]any{"subscription": "keep", "filter": map[string]any{"stream": 5}}), codes.InvalidArgument},
		{"psub_create", mp(t, map[string]any{"subscription": "keep", "extra": 1}), codes.InvalidArgument},
		{"psub_create", mp(t, map[string]any{"subscription": "keep", "start": "position"}), codes.InvalidArgument},
		{"psub_create", mp(t, map[string]any{"subscription": "keep", "start": "end", "start_position": 3}), codes.InvalidArgument},
		{"psub_create", mp(t, map[string]any{"subscription": "keep", "start_position": -1}), codes.InvalidArgument},
		{"psub_update", mp(t, map[string]any{"subscription": "keep", "settings": map[string]any{"max_in_flight": 1e9}}), codes.InvalidArgument},
		{"psub_update", mp(t, map[string]any{"subscription": "keep", "settings": map[string]any{"strategy": "PINNED"}}), codes.InvalidArgument},
		{"psub_delete", mp(t, map[string]any{"subscription": 7}), codes.InvalidArgument},
		{"psub_delete", mp(t, map[string]any{}), codes.InvalidSubscriptionName},
		{"psub_list", mp(t, map[string]any{"limit": 3}), codes.InvalidArgument},
		{"psub_info", mp(t, map[string]any{"subscription": "ke\x00ep"}), codes.InvalidSubscriptionName},
		{"psub_join", mp(t, map[string]any{"subscription": "keep", "consumer": "c", "deliver": "_INBOX.*"}), codes.InvalidArgument},
		{"psub_join", mp(t, map[string]any{"subscription": "keep", "consumer": "c", "deliver": "_INBOX.x", "heartbeat_ms": 1}), codes.InvalidArgument},
		{"psub_ack", mp(t, map[string]any{"subscription": "keep", "consumer": "k", "positions": []int{}}), codes.InvalidArgument},
		{"psub_ack", mp(t, map[string]any{"subscription": "keep", "consumer": "k", "positions": []int{-1}}), codes.InvalidArgument},
		{"psub_ack", mp(t, map[string]any{"subscription": "keep", "consumer": "k", "positions": []int{1}, "delay_ms": 5}), codes.InvalidArgument},
		{"psub_ack", mp(t, map[string]any{"subscription": "keep", "consumer": "k", "positions": make([]int, 1001)}), codes.InvalidArgument},
		{"psub_parked", mp(t, map[string]any{"subscription": "keep", "limit": 0}), codes.InvalidArgument},
		{"psub_parked", mp(t, map[string]any{"subscription": "keep", "after": "x"}), codes.InvalidArgument},
		{"psub_replay", mp(t, map[string]any{"subscription": "keep", "max_count": 10001}), codes.InvalidArgument},
		{"psub_replay", []byte{0x81, 0x01, 0x02}, codes.MalformedRequest},
	}
	for _, b := range bad {
		// Through the gateway, and straight to the leader (which decodes
		// again and never trusts the gateway).
		for _, subject := range []string{"store.default." + b.op, proto.Leader("default", b.op)} {
			msg, err := rawRequest(t, in, subject, b.data)
			if err != nil {
				t.Fatalf("%s %x: %v", subject, b.data, err)
			}
			e := wire.ErrorFromMsg(msg)
			if e == nil || e.Code != b.want {
				t.Errorf("%s %x: got %v, want %s", subject, b.data, e, b.want)
			}
		}
	}
	afterEvents := readAllForward(t, s, nil, 100)
	afterInfo := subInfo(t, s, "keep")
	afterInfo.Consumers = nil
	afterParked, err := s.ParkedEvents(ctxT(t), "keep", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(beforeEvents, afterEvents) || !reflect.DeepEqual(beforeInfo, afterInfo) || !reflect.DeepEqual(beforeParked, afterParked) {
		t.Fatalf("bad input changed stored data:\n%+v\n%+v\n%+v\n%+v", beforeInfo, afterInfo, beforeParked, afterParked)
	}
	if list, err := s.ListSubscriptions(ctxT(t)); err != nil || len(list) != 1 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
}

// A restart (leader change) in the middle of busy delivery to two consumers:
// every event is delivered, and an event delivered more than once is marked
// redelivered every time after the first.
func TestPersistentRestartDuringDelivery(t *testing.T) {
	in := startLogbook(t)
	createSub(t, in.Store, "busy", settings(20, 60_000, 5, client.RoundRobin))
	s := reconnectingStore(t, in)
	const n = 400
	for i := range n / 20 {
		appendEvents(t, s, fmt.Sprintf("busy-%d", i%5), "B", 20)
	}
	cs := newConsumers(t)
	slowAck := func(ctx context.Context, m *client.Message) {
		time.Sleep(time.Millisecond)
		_ = m.Ack(ctx) // acks of the old leader's deliveries may fail: redelivered
	}
	defer cs.start(s, "busy", "x", 100*time.Millisecond, slowAck)()
	defer cs.start(s, "busy", "y", 100*time.Millisecond, slowAck)()
	waitFor(t, "some deliveries", func() bool { return len(cs.snapshot()) >= n/4 })
	in.restart()
	waitCheckpoint(t, in.Store, "busy", n)
	first := map[uint64]bool{}
	for _, d := range cs.snapshot() {
		if d.count == 1 && !d.redelivered {
			if first[d.pos] {
				t.Errorf("position %d was delivered twice as a first delivery", d.pos)
			}
			first[d.pos] = true
		} else if !d.redelivered || d.count < 2 {
			t.Errorf("inconsistent delivery %+v", d)
		}
	}
	seen := map[uint64]bool{}
	for _, d := range cs.snapshot() {
		seen[d.pos] = true
	}
	if len(seen) != n {
		t.Fatalf("%d of %d events delivered", len(seen), n)
	}
	t.Logf("%d deliveries of %d events", len(cs.snapshot()), n)
	if info := subInfo(t, in.Store, "busy"); info.ParkedCount != 0 {
		t.Errorf("parked after the restart: %+v", info)
	}
}

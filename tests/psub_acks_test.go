package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
)

// The Go client carries the acks of one consumer made at the same time in
// one request (pkg/client/acks.go); each Ack must still get its own
// event's answer. The handler acknowledges every message on goroutines of
// its own, every fifth one twice at once: every event is settled exactly
// once, and of each pair of acks one succeeds and the other answers
// event_already_acked, as two requests of their own would.
func TestPersistentConcurrentAcksEachGetTheirAnswer(t *testing.T) {
	s, cs := startSubscription(t, "many", settings(256, 30_000, 3, client.RoundRobin))
	const n = 400
	var mu sync.Mutex
	ok := map[uint64]int{}
	already := map[uint64]int{}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ack := func(ctx context.Context, m *client.Message) {
		err := m.Ack(ctx)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok[m.Event.Position]++
		case errors.Is(err, client.ErrEventAlreadyAcked):
			already[m.Event.Position]++
		default:
			t.Errorf("ack %d: %v", m.Event.Position, err)
		}
	}
	cs.start(s, "many", "a", 0, func(ctx context.Context, m *client.Message) {
		times := 1
		if m.Event.Position%5 == 0 {
			times = 2
		}
		for range times {
			wg.Go(func() { ack(ctx, m) })
		}
	})
	for i := range n / 50 {
		appendEvents(t, s, fmt.Sprintf("acks-%d", i), "A", 50)
	}
	settled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ok) == n && len(already) == n/5
	}
	defer func() {
		mu.Lock()
		t.Logf("%d events acked, %d answered event_already_acked; info %+v", len(ok), len(already), subInfo(t, s, "many"))
		mu.Unlock()
	}()
	waitFor(t, "every ack answered", settled)
	t.Logf("%d deliveries", len(cs.snapshot()))
	waitCheckpoint(t, s, "many", n)
	mu.Lock()
	defer mu.Unlock()
	for p := range uint64(n) {
		if ok[p] != 1 {
			t.Errorf("position %d: %d successful acks, want 1", p, ok[p])
		}
		want := 0
		if p%5 == 0 {
			want = 1
		}
		if already[p] != want {
			t.Errorf("position %d: %d event_already_acked answers, want %d", p, already[p], want)
		}
	}
	for _, d := range cs.snapshot() {
		if d.redelivered {
			t.Errorf("position %d redelivered", d.pos)
		}
	}
	info := subInfo(t, s, "many")
	if info.InFlight != 0 || info.Waiting != 0 || info.ParkedCount != 0 {
		t.Errorf("after all acks: %+v", info)
	}
}

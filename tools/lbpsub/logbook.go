package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// logbookSystem is a single-node Logbook in this process.
type logbookSystem struct {
	lb *embed.Logbook
	c  *client.Client // setup: subscriptions and the backlog
}

func startLogbook(ctx context.Context, dir string, logger *slog.Logger) (*logbookSystem, error) {
	lb, err := benchkit.StartLogbook(ctx, dir, logger)
	if err != nil {
		return nil, err
	}
	c, err := client.Connect(lb.ClientURL())
	if err != nil {
		lb.Close()
		return nil, err
	}
	return &logbookSystem{lb: lb, c: c}, nil
}

func (s *logbookSystem) name() string { return "logbook" }

func (s *logbookSystem) close() {
	s.c.Close()
	s.lb.Close()
}

// settled counts the events whose acknowledgement the server confirmed, each
// once, and signals when a target count is reached.
type settled struct {
	mu     sync.Mutex
	seen   map[uint64]bool
	target int
	done   chan struct{}
}

func newSettled() *settled { return &settled{seen: map[uint64]bool{}} }

// expect arms the count: the returned channel closes once n events settled.
func (t *settled) expect(n int) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target, t.done = n, make(chan struct{})
	if len(t.seen) >= n {
		close(t.done)
	}
	return t.done
}

func (t *settled) add(key uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[key] {
		return
	}
	t.seen[key] = true
	if len(t.seen) == t.target {
		close(t.done)
	}
}

func (t *settled) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

func (s *logbookSystem) run(ctx context.Context, sc scenario) (result, error) {
	res := result{System: s.name(), Strategy: sc.strategy, Consumers: sc.consumers, Events: sc.events}
	st := s.c.Store(s.lb.StoreID())
	name := "bench-" + sc.tag
	inFlight := int64(sc.inFlight)
	// Created at the end of the store, before the backlog is written: it
	// delivers exactly this scenario's events.
	if _, err := st.CreateSubscription(ctx, name, client.SubscriptionOptions{
		Filter:   &client.SubscriptionFilter{StreamPrefix: sc.tag + "-"},
		FromEnd:  true,
		Settings: &client.SubscriptionSettings{MaxInFlight: &inFlight, Strategy: sc.strategy},
	}); err != nil {
		return res, fmt.Errorf("create subscription: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st.DeleteSubscription(dctx, name)
		cancel()
	}()
	if err := s.writeBacklog(ctx, sc); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}

	acked := newSettled()
	backlog := acked.expect(sc.events)
	var redelivered atomic.Int64
	var liveMu sync.Mutex
	var live benchkit.Latencies
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	errs := make(chan error, sc.consumers)
	start := time.Now()
	for i := range sc.consumers {
		c, err := client.Connect(s.lb.ClientURL())
		if err != nil {
			return res, err
		}
		defer c.Close()
		cst := c.Store(s.lb.StoreID())
		sem := make(chan struct{}, sc.inFlight)
		handler := func(hctx context.Context, m *client.Message) {
			if m.DeliveryCount > 1 {
				redelivered.Add(1)
			} else if m.Event.Type == "live" {
				d := sinceStamp(m.Event.Data)
				liveMu.Lock()
				live = append(live, d)
				liveMu.Unlock()
			}
			// Acknowledge without holding up the next message: the
			// server confirms each ack; at most inFlight outstanding.
			select {
			case sem <- struct{}{}:
			case <-hctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				actx, cancel := context.WithTimeout(hctx, 10*time.Second)
				err := m.Ack(actx)
				cancel()
				if err == nil || errors.Is(err, client.ErrEventAlreadyAcked) {
					acked.add(m.Event.Position)
				}
				// Any other error (event_not_in_flight): it is delivered again.
			})
		}
		wg.Go(func() {
			if err := cst.Consume(cctx, name, handler, client.ConsumeOptions{Consumer: fmt.Sprintf("c%d", i)}); err != nil {
				errs <- err
			}
		})
	}
	if err := waitFor(ctx, backlog, errs, acked, sc.events); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	res.PerSec = float64(sc.events) / res.Seconds

	// Live: one writer, one event per append, each carrying its send time.
	all := acked.expect(sc.events + sc.live)
	data := benchkit.Payload(sc.size)
	for j := range sc.live {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := st.Append(actx, fmt.Sprintf("%s-%d", sc.tag, j%streams), client.Any, client.Event{Type: "live", Data: stamp(data)})
		cancel()
		if err != nil {
			return res, fmt.Errorf("live append: %w", err)
		}
	}
	if err := waitFor(ctx, all, errs, acked, sc.events+sc.live); err != nil {
		return res, fmt.Errorf("live: %w", err)
	}
	res.Redeliv = int(redelivered.Load())
	liveMu.Lock()
	res.setLive(live)
	liveMu.Unlock()
	return res, nil
}

// writeBacklog appends sc.events events, 50 per append, with 4 writers,
// round robin over the scenario's streams.
func (s *logbookSystem) writeBacklog(ctx context.Context, sc scenario) error {
	const writers, batch = 4, 50
	st := s.c.Store(s.lb.StoreID())
	data := benchkit.Payload(sc.size)
	var next atomic.Int64
	return benchkit.Parallel(writers, func(w int) error {
		for i := 0; ; i++ {
			end := next.Add(batch)
			first := end - batch
			if first >= int64(sc.events) {
				return nil
			}
			evs := make([]client.Event, min(end, int64(sc.events))-first)
			for j := range evs {
				evs[j] = client.Event{Type: "bench", Data: data}
			}
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := st.Append(actx, fmt.Sprintf("%s-%d", sc.tag, (int(first)/batch)%streams), client.Any, evs...)
			cancel()
			if err != nil {
				return err
			}
		}
	})
}

// waitFor waits until done closes, a consumer fails or ctx ends.
func waitFor(ctx context.Context, done <-chan struct{}, errs <-chan error, t interface{ count() int }, want int) error {
	select {
	case <-done:
		return nil
	case err := <-errs:
		return fmt.Errorf("a consumer ended: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("%d of %d events settled: %w", t.count(), want, ctx.Err())
	}
}

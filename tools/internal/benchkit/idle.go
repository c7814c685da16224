package benchkit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Idle stores and streams: many stores (Logbook) or streams (JetStream)
// that are created and then left alone, so that a benchmark on one busy
// store measures what the idle ones cost it.

// IdleStoreID names idle store i (1, 2, ...).
func IdleStoreID(i int) string { return fmt.Sprintf("idle-%05d", i) }

// IdleStreamName names idle JetStream stream i (1, 2, ...); it takes the
// subject idle.<i>.
func IdleStreamName(i int) string { return fmt.Sprintf("IDLE%05d", i) }

// ForEach calls f(ctx, 1..n) from workers goroutines; the first error ends
// the others' work (they stop taking new items) and is returned.
func ForEach(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	err := Parallel(min(workers, max(n, 1)), func(int) error {
		for ctx.Err() == nil {
			i := int(next.Add(1))
			if i > n {
				return nil
			}
			if err := f(ctx, i); err != nil {
				cancel(err)
				return err
			}
		}
		return context.Cause(ctx)
	})
	return err
}

// CreateStores creates the stores IdleStoreID(1..n) with the cluster's
// default settings through c, workers at a time, each create bounded by
// timeout (a reply still "creating" is followed by status polls until the
// store runs). A store that exists already counts as created.
func CreateStores(ctx context.Context, c *client.Client, n, workers int, timeout time.Duration) error {
	return ForEach(ctx, n, workers, func(ctx context.Context, i int) error {
		return createStore(ctx, c, IdleStoreID(i), timeout)
	})
}

func createStore(ctx context.Context, c *client.Client, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := c.Stores().Create(ctx, id, nil)
	if err != nil {
		return fmt.Errorf("create store %s: %w", id, err)
	}
	for status := reply.Status.Status; status == wire.StatusCreating; {
		select {
		case <-ctx.Done():
			return fmt.Errorf("create store %s: still %q: %w", id, status, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		st, err := c.Stores().Status(ctx, id)
		if err != nil {
			return fmt.Errorf("status of store %s: %w", id, err)
		}
		status = st.Status
	}
	return nil
}

// CountDormant returns how many of the stores IdleStoreID(1..n) the cluster
// view shows dormant.
func CountDormant(ctx context.Context, c *client.Client, n int) (int, error) {
	view, err := c.View(ctx)
	if err != nil {
		return 0, fmt.Errorf("cluster view: %w", err)
	}
	idle := make(map[string]bool, n)
	for i := 1; i <= n; i++ {
		idle[IdleStoreID(i)] = true
	}
	dormant := 0
	for _, s := range view.Stores {
		if idle[s.Store] && s.Health == wire.StoreDormant {
			dormant++
		}
	}
	return dormant, nil
}

// WaitDormant polls the cluster view every poll until the stores
// IdleStoreID(1..n) are all dormant, or until ctx ends; it returns the
// last count seen.
func WaitDormant(ctx context.Context, c *client.Client, n int, poll time.Duration) (int, error) {
	seen := 0
	for {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err := CountDormant(vctx, c, n)
		cancel()
		if err == nil {
			seen = got
		}
		if seen >= n {
			return seen, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return seen, fmt.Errorf("%d of %d idle stores dormant: %w (last view: %w)", seen, n, ctx.Err(), err)
			}
			return seen, fmt.Errorf("%d of %d idle stores dormant: %w", seen, n, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// CreateIdleStreams creates the JetStream streams IdleStreamName(1..n),
// R1 on file storage (with the server's sync setting), each on its own
// subject, workers at a time, each create bounded by timeout.
func CreateIdleStreams(ctx context.Context, js jetstream.JetStream, n, workers int, timeout time.Duration) error {
	return ForEach(ctx, n, workers, func(ctx context.Context, i int) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		name := IdleStreamName(i)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{fmt.Sprintf("idle.%d", i)}, Storage: jetstream.FileStorage, Replicas: 1,
		})
		if err != nil {
			return fmt.Errorf("create stream %s: %w", name, err)
		}
		return nil
	})
}

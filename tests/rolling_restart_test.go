package tests

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

// A rolling restart of every storenode under load is invisible to clients
// (issue 10): each node in turn is stopped gracefully (SIGTERM), started
// again on its data and waited for until the view shows all its replicas
// back, while writers append to several stores, half of them through a
// one-shot client (client.WithoutRetry: any failure the gateway lets
// through reaches the application) and half through a default client. Then
// the leader balancer moves leaderships onto the last node restarted, which
// led nothing, still under load. No append may fail, and every
// acknowledged append is stored.
func TestRollingRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real storenode processes")
	}
	c := startProcCluster(t, 3)
	stores := []string{"default", "roll-a", "roll-b"}
	for _, id := range stores[1:] {
		if _, err := c.Client.Stores().Create(ctxT(t), id, nil); err != nil {
			t.Fatalf("create store %s: %v", id, err)
		}
	}
	t.Logf("leaders: %v", waitLeadersSpread(t, c, 90*time.Second))
	oneShot, err := client.Connect(c.url, client.WithoutRetry())
	if err != nil {
		t.Fatal(err)
	}
	defer oneShot.Close()

	t0 := time.Now()
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	var writers []*rollWriter
	for _, store := range stores {
		for _, w := range []*rollWriter{
			{name: "one-shot", store: store, s: oneShot.Store(store), t0: t0},
			{name: "default", store: store, s: c.Client.Store(store), t0: t0},
		} {
			writers = append(writers, w)
			wg.Go(func() { w.run(ctx) })
		}
	}

	wg.Go(func() { watchLeaders(ctx, t, c, t0) })
	time.Sleep(time.Second)
	var leaders map[string]uint64
	for id := uint64(1); id <= 3; id++ {
		start := time.Since(t0)
		stderr, exit := c.terminate(id, 60*time.Second)
		stopped := time.Since(t0)
		if exit != nil {
			t.Errorf("storenode %d after SIGTERM: exit %v; stderr:\n%s", id, exit, lastLines(stderr, 20))
		}
		c.restart(id)
		c.waitReady(id)
		ready := time.Since(t0)
		leaders = waitSettled(t, c, 60*time.Second)
		t.Logf("node %d: SIGTERM at %s, exited at %s, ready at %s, all replicas back at %s",
			id, ms(start), ms(stopped), ms(ready), ms(time.Since(t0)))
	}
	// Node 3, restarted last, leads nothing: the balancer hands it
	// leaderships, under load.
	t.Logf("leaders after the rolling restart: %v", leaders)
	balanced := waitLeadersSpread(t, c, 60*time.Second)
	t.Logf("leaders balanced at %s: %v", ms(time.Since(t0)), balanced)
	time.Sleep(2 * time.Second)
	stopLoad()
	wg.Wait()

	for _, w := range writers {
		t.Logf("%s client on %s: %d appends acknowledged, %d failed %v; longest stretch without an acknowledgement %s",
			w.name, w.store, len(w.acked), w.failed(), w.codes, ms(w.longestPause()))
		for _, f := range w.failures {
			t.Logf("  %s", f)
		}
		if n := w.failed(); n > 0 {
			t.Errorf("%s client on %s: %d appends failed during the rolling restart: %v", w.name, w.store, n, w.codes)
		}
		if len(w.acked) == 0 {
			t.Errorf("%s client on %s: nothing acknowledged", w.name, w.store)
		}
		w.checkStored(t, ctxT(t), c.Client.Store(w.store))
	}
}

// watchLeaders logs every change of a store's leader in the view (any node
// answers a view, so a change may show up late), so that failures can be
// set against leader moves.
func watchLeaders(ctx context.Context, t *testing.T, c *procCluster, t0 time.Time) {
	last := map[string]uint64{}
	for ctx.Err() == nil {
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := c.Client.View(vctx)
		cancel()
		if err == nil {
			for _, s := range v.Stores {
				if l, ok := last[s.Store]; ok && l != s.Leader {
					t.Logf("view at %s: %s leader %d → %d", ms(time.Since(t0)), s.Store, l, s.Leader)
				}
				last[s.Store] = s.Leader
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// terminate stops a node gracefully (SIGTERM) and waits up to timeout for
// it to exit; it returns what the node wrote on stderr and its exit status.
func (c *procCluster) terminate(id uint64, timeout time.Duration) (string, error) {
	c.t.Helper()
	if err := c.node(id).cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatalf("SIGTERM to storenode %d: %v", id, err)
	}
	return c.exited(id, timeout)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// rollWriter appends one event at a time to its own stream (no expected
// revision: nothing conflicts) and records every outcome.
type rollWriter struct {
	name, store string
	s           *client.Store
	t0          time.Time

	acked    []string        // ids of acknowledged events, in order
	ackAt    []time.Duration // when each acknowledgement arrived
	codes    map[string]int  // failures by code name
	failures []string        // the first few failures, with when they happened
}

func (w *rollWriter) stream() string { return "roll-" + w.name }

func (w *rollWriter) run(ctx context.Context) {
	w.codes = map[string]int{}
	for ctx.Err() == nil {
		id := uuid.NewString()
		call := time.Since(w.t0)
		_, err := w.s.Append(context.WithoutCancel(ctx), w.stream(), client.Any,
			client.Event{ID: id, Type: "Rolled", Data: []byte(id[:8])})
		switch {
		case err == nil:
			w.acked = append(w.acked, id)
			w.ackAt = append(w.ackAt, time.Since(w.t0))
		default:
			code := "not a codes.Error"
			if e := codes.As(err); e != nil {
				code = fmt.Sprintf("%s (%d)", e.Code, int(e.Code))
			}
			w.codes[code]++
			if len(w.failures) < 5 {
				w.failures = append(w.failures, fmt.Sprintf("append sent at %s failed at %s: %v", ms(call), ms(time.Since(w.t0)), err))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (w *rollWriter) failed() int {
	n := 0
	for _, c := range w.codes {
		n += c
	}
	return n
}

func (w *rollWriter) longestPause() time.Duration {
	var longest time.Duration
	for i := 1; i < len(w.ackAt); i++ {
		longest = max(longest, w.ackAt[i]-w.ackAt[i-1])
	}
	return longest
}

// checkStored reads the writer's stream back: every acknowledged event is
// there, in order (events whose append failed may be there too: a failure
// is not a proof that nothing was stored).
func (w *rollWriter) checkStored(t *testing.T, ctx context.Context, s *client.Store) {
	t.Helper()
	got, err := readAllOf(ctx, s, w.stream())
	if err != nil {
		t.Fatalf("read %s/%s: %v", w.store, w.stream(), err)
	}
	i := 0
	for _, id := range got {
		if i < len(w.acked) && id == w.acked[i] {
			i++
		}
	}
	if i != len(w.acked) {
		t.Errorf("%s/%s: acknowledged event %s (%d of %d) missing or out of order", w.store, w.stream(), w.acked[i], i, len(w.acked))
	}
	if dup := len(got) - len(slices.Compact(slices.Sorted(slices.Values(got)))); dup > 0 {
		t.Errorf("%s/%s: %d events stored twice", w.store, w.stream(), dup)
	}
}

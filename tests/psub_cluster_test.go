package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
)

// A persistent subscription on a three-node cluster whose store leader is
// stopped during delivery (while appends continue): the new leader resumes
// from the replicated checkpoint; every event is delivered, none is first
// delivered twice, and redeliveries are marked.
func TestPersistentLeaderFailoverInCluster(t *testing.T) {
	c := startMemCluster(t, 3)
	s := c.Client.Store("default")
	createSub(t, s, "fo", settings(20, 60_000, 5, client.RoundRobin))
	const n = 600
	for i := range n / 2 / 20 {
		appendEvents(t, s, fmt.Sprintf("fo-%d", i%5), "F", 20)
	}
	cs := newConsumers(t)
	slowAck := func(ctx context.Context, m *client.Message) {
		time.Sleep(time.Millisecond)
		_ = m.Ack(ctx) // an ack to the old leader may fail: the event comes again, marked
	}
	defer cs.start(s, "fo", "x", 100*time.Millisecond, slowAck)()
	defer cs.start(s, "fo", "y", 100*time.Millisecond, slowAck)()
	waitFor(t, "some deliveries", func() bool { return len(cs.snapshot()) >= n/6 })
	st := ledInView(t, c, "default")
	c.stop(st.Leader)
	for i := range n / 2 / 20 {
		appendEvents(t, s, fmt.Sprintf("fo-%d", i%5), "F", 20)
	}
	waitCheckpoint(t, s, "fo", n)
	first := map[uint64]bool{}
	seen := map[uint64]bool{}
	for _, d := range cs.snapshot() {
		seen[d.pos] = true
		switch {
		case d.count == 1 && !d.redelivered:
			if first[d.pos] {
				t.Errorf("position %d first-delivered twice", d.pos)
			}
			first[d.pos] = true
		case !d.redelivered || d.count < 2:
			t.Errorf("inconsistent delivery %+v", d)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d events delivered", len(seen), n)
	}
	t.Logf("leader %d stopped; %d deliveries of %d events", st.Leader, len(cs.snapshot()), n)
}

package tests

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// waitDormant waits until the view shows the store dormant on every one of
// its replicas' nodes.
func waitDormant(t *testing.T, c *memCluster, store string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		s, err := storeOf(c.view(ctxT(t)), store)
		if err != nil {
			return err
		}
		for _, rs := range s.ReplicaStates {
			if rs.State != wire.ReplicaDormant {
				return fmt.Errorf("%s: replica on node %d is %s", store, rs.Node, rs.State)
			}
		}
		if s.Health != wire.StoreDormant {
			return fmt.Errorf("%s: health %s", store, s.Health)
		}
		return nil
	})
}

// Idle stores go dormant on every node (their Raft replicas stopped), and
// the next request wakes them: appends and reads see everything written
// before; a dormant store survives the loss of a node and a node's restart
// (which leaves its replicas dormant), and a quota set while it sleeps is
// enforced once it wakes.
func TestDormantStores(t *testing.T) {
	c := startMemCluster(t, 3, func(cfg *node.Config) { cfg.HibernateAfter = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rf3, rf1 := int64(3), int64(1)
	for id, rf := range map[string]*int64{"busy3": &rf3, "solo": &rf1} {
		if _, err := c.Client.Stores().Create(ctx, id, &client.StoreSettings{ReplicationFactor: rf}); err != nil {
			t.Fatal(err)
		}
	}
	r3, solo := c.Client.Store("busy3"), c.Client.Store("solo")
	for i := range 3 {
		for _, s := range []*client.Store{r3, solo} {
			if _, err := s.Append(ctx, "s", client.Any, ev("E", fmt.Sprintf(`{"i":%d}`, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitDormant(t, c, "busy3")
	waitDormant(t, c, "solo")

	// The next append wakes the store; nothing written before is lost.
	start := time.Now()
	if _, err := r3.Append(ctx, "s", client.Any, ev("E", `{"i":3}`)); err != nil {
		t.Fatalf("append to a dormant store: %v", err)
	}
	t.Logf("first append to a dormant R3 store took %v", time.Since(start))
	if got := readAllEvents(t, r3, ^uint64(0)); len(got) != 4 {
		t.Fatalf("after the wake the store reads %d events, want 4", len(got))
	}
	start = time.Now()
	if got := readAllEvents(t, solo, ^uint64(0)); len(got) != 3 {
		t.Fatalf("a read woke the single-replica store with %d events, want 3", len(got))
	}
	t.Logf("first read of a dormant R1 store took %v", time.Since(start))

	// A quota set while the store sleeps is in force once it wakes.
	waitDormant(t, c, "solo")
	four := int64(4)
	if _, err := c.Client.Stores().SetQuota(ctx, "solo", &four, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := solo.Append(ctx, "s", client.Any, ev("E", `{"i":3}`)); err != nil {
		t.Fatalf("append within the quota: %v", err)
	}
	_, err := solo.Append(ctx, "s", client.Any, ev("E", `{"i":4}`))
	if e := codes.As(err); e == nil || e.Code != codes.QuotaExceeded {
		t.Fatalf("append over the quota set while dormant: %v", err)
	}

	// A node stops while the store sleeps: the two others wake it.
	waitDormant(t, c, "busy3")
	down := c.node(2)
	c.stop(2)
	if _, err := r3.Append(ctx, "s", client.Any, ev("E", `{"i":4}`)); err != nil {
		t.Fatalf("append to a dormant store with a node down: %v", err)
	}
	// The stopped node's replica was dormant: it stays so when the node
	// comes back, and wakes once it sees its store (kept in use by appends)
	// move on without it.
	eventually(t, 30*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "busy3")
		if err != nil || s.Health != wire.StoreDormant {
			return fmt.Errorf("busy3 with node 2 down: %+v %v", s, err)
		}
		return nil
	})
	c.restart(down)
	c.waitReady()
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "busy3")
		if err != nil {
			return err
		}
		for _, rs := range s.ReplicaStates {
			if rs.State != wire.ReplicaDormant {
				return fmt.Errorf("after node 2's restart: %+v", s.ReplicaStates)
			}
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		if _, err := r3.Append(ctx, "keep", client.Any, ev("E", `{}`)); err != nil {
			return err
		}
		s, err := storeOf(c.view(ctx), "busy3")
		if err != nil {
			return err
		}
		for _, rs := range s.ReplicaStates {
			if rs.Node == 2 && rs.State == wire.ReplicaRunning && rs.Applied > 0 {
				return nil
			}
		}
		return fmt.Errorf("node 2's replica: %+v", s.ReplicaStates)
	})
	// With node 1 stopped while the store sleeps, the quorum that wakes it
	// includes node 2, which holds every event.
	want := readAllEvents(t, r3, ^uint64(0))
	waitDormant(t, c, "busy3")
	c.stop(1)
	if got := readAllEvents(t, r3, ^uint64(0)); !reflect.DeepEqual(got, want) {
		t.Fatalf("with node 1 down the store reads %d events, want the same %d", len(got), len(want))
	}
	if _, err := r3.Append(ctx, "s", client.Any, ev("E", `{"i":5}`)); err != nil {
		t.Fatalf("append with node 1 down: %v", err)
	}
}

// Beyond the running limit the longest idle stores go dormant early, long
// before the hibernation delay, and still serve at the next request.
func TestRunningReplicaLimit(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) { c.HibernateAfter = time.Hour; c.MaxRunningReplicas = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 6 {
		if _, err := in.Client.Stores().Create(ctx, fmt.Sprintf("lim%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	dormant := func() (int, error) {
		v, err := in.Client.View(ctx)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, s := range v.Stores {
			if s.Health == wire.StoreDormant {
				n++
			}
		}
		return n, nil
	}
	eventually(t, 45*time.Second, func() error {
		if n, err := dormant(); err != nil || n != 4 {
			return fmt.Errorf("%d of 7 stores dormant (%v), want 4: 3 run", n, err)
		}
		return nil
	})
	if _, err := in.Client.Store("lim0").Append(ctx, "s", client.Any, ev("E", `{}`)); err != nil {
		t.Fatalf("append to a store made dormant by the limit: %v", err)
	}
}

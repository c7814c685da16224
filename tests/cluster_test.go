package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Three storenodes given only NATS, an id, a Raft address, a data dir, a
// cluster name and the initial size form one cluster; every store gets three
// replicas; losing the leader of a store keeps it available, and a node that
// comes back catches up.
func TestClusterFormsReplicatesAndFailsOver(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)

	v := c.view(ctx)
	if len(v.Nodes) != 3 || v.UID == "" || v.MetaLeader == 0 || v.Cluster != "test" {
		t.Fatalf("view: %+v", v)
	}
	for _, nd := range v.Nodes {
		if nd.Health != wire.NodeUp || nd.MetaRole != "voter" {
			t.Fatalf("node %+v", nd)
		}
	}
	if def := ledInView(t, c, "default"); !slices.Equal(def.Replicas, []uint64{1, 2, 3}) {
		t.Fatalf("default store %+v", def)
	}
	if _, err := c.Client.Stores().Create(ctx, "orders", nil); err != nil {
		t.Fatal(err)
	}
	orders := c.Client.Store("orders")
	if _, err := orders.Append(ctx, "order-1", client.NoStream, ev("Placed", "")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 30; i++ {
		if _, err := orders.Append(ctx, "order-1", client.Exact(uint64(i-1)), ev("Placed", "")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "orders")
		if err != nil || len(s.Replicas) != 3 || s.Health != wire.StoreHealthy {
			return fmt.Errorf("orders %+v %v", s, err)
		}
		return nil
	})

	// Stop the leader of "orders": another node takes over, nothing is lost.
	s := ledInView(t, c, "orders")
	down := c.node(s.Leader)
	c.stop(s.Leader)
	if got := readStream(t, ctx, orders, "order-1"); len(got) != 30 {
		t.Fatalf("after failover: %d events", len(got))
	}
	for i := 30; i < 40; i++ {
		if _, err := orders.Append(ctx, "order-1", client.Exact(uint64(i-1)), ev("Placed", "")); err != nil {
			t.Fatalf("append %d after failover: %v", i, err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		h, err := c.Client.Health(ctx)
		if err != nil || h.Status != wire.HealthWarning || !strings.Contains(strings.Join(h.Problems, "\n"), fmt.Sprintf("storenode %d", down.cfg.NodeID)) {
			return fmt.Errorf("health %+v %v", h, err)
		}
		return nil
	})

	// Bring it back, then stop another node: the two left must include the
	// one that came back, so new appends prove it caught up.
	c.restart(down)
	c.waitReady()
	eventually(t, 15*time.Second, func() error {
		h, err := c.Client.Health(ctx)
		if err != nil || h.Status != wire.HealthOK {
			return fmt.Errorf("health %+v %v", h, err)
		}
		return nil
	})
	var other uint64
	for _, id := range []uint64{1, 2, 3} {
		if id != down.cfg.NodeID {
			other = id
			break
		}
	}
	c.stop(other)
	for i := 40; i < 45; i++ {
		if _, err := orders.Append(ctx, "order-1", client.Exact(uint64(i-1)), ev("Placed", "")); err != nil {
			t.Fatalf("append %d with node %d back and node %d down: %v", i, down.cfg.NodeID, other, err)
		}
	}
	if got := readStream(t, ctx, orders, "order-1"); len(got) != 45 {
		t.Fatalf("%d events", len(got))
	}
}

func readStream(t *testing.T, ctx context.Context, s *client.Store, stream string) []client.RecordedEvent {
	t.Helper()
	r, err := s.Read(ctx, stream, client.ReadOptions{MaxCount: 1000})
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return r.Events
}

// Nodes that start at different moments, in any order, still form exactly
// one cluster of the initial size; a node started later joins it, and a
// restarted node rejoins as itself.
func TestClusterStaggeredStartAndJoin(t *testing.T) {
	c := newMemCluster(t)
	n3 := c.start(c.nodeConfig(3, 3))
	time.Sleep(700 * time.Millisecond)
	c.start(c.nodeConfig(1, 3))
	time.Sleep(300 * time.Millisecond)
	c.start(c.nodeConfig(2, 3))
	c.waitReady()
	c.startGateway()
	ctx := ctxT(t)
	v := c.view(ctx)
	if len(v.Nodes) != 3 {
		t.Fatalf("nodes %+v", v.Nodes)
	}
	// A fourth node joins (voter: the meta shard takes up to five).
	c.start(c.nodeConfig(4, 3))
	c.waitReady()
	eventually(t, 10*time.Second, func() error {
		v := c.view(ctx)
		for _, nd := range v.Nodes {
			if nd.ID == 4 && nd.Health == wire.NodeUp && nd.MetaRole == "voter" {
				return nil
			}
		}
		return fmt.Errorf("node 4 not in %+v", v.Nodes)
	})
	// New stores may be placed on it.
	for i := range 4 {
		if _, err := c.Client.Stores().Create(ctx, fmt.Sprintf("s%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	v = c.view(ctx)
	placed := false
	for _, s := range v.Stores {
		placed = placed || slices.Contains(s.Replicas, 4)
	}
	if !placed {
		t.Fatalf("no store placed on the new node: %+v", v.Stores)
	}
	// Node 3 restarts on its data and is the same member again.
	c.stop(3)
	c.restart(n3)
	c.waitReady()
	eventually(t, 10*time.Second, func() error {
		v := c.view(ctx)
		if len(v.Nodes) != 4 {
			return fmt.Errorf("nodes %+v", v.Nodes)
		}
		for _, nd := range v.Nodes {
			if nd.Health != wire.NodeUp {
				return fmt.Errorf("node %+v", nd)
			}
		}
		return nil
	})
}

// A storenode configured for another cluster name is refused with a clear
// error, and the cluster reports it.
func TestClusterRefusesOtherClusterName(t *testing.T) {
	c := startMemCluster(t, 1)
	cfg := c.nodeConfig(2, 1)
	cfg.ClusterName = "other"
	m := c.startLoose(cfg)
	defer m.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := m.n.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), `belongs to cluster "test"`) {
		t.Fatalf("want a refusal naming the cluster, got %v", err)
	}
	h, err := c.Client.Health(ctxT(t))
	if err != nil || h.Status != wire.HealthWarning || !strings.Contains(strings.Join(h.Problems, "\n"), `cluster "other"`) {
		t.Fatalf("health %+v %v", h, err)
	}
}

// A fresh storenode reusing a member's id is refused.
func TestClusterRefusesDuplicateNodeID(t *testing.T) {
	c := startMemCluster(t, 1)
	m := c.startLoose(c.nodeConfig(1, 1))
	defer m.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.n.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

// Leaderships spread across the nodes: with six stores on three nodes,
// each node ends up leading two.
func TestClusterBalancesLeaders(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := c.Client.Stores().Create(ctx, fmt.Sprintf("b%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, func() error {
		v := c.view(ctx)
		leads := map[uint64]int{}
		for _, s := range v.Stores {
			if s.Leader == 0 {
				return fmt.Errorf("store %s has no leader", s.Store)
			}
			leads[s.Leader]++
		}
		for _, id := range []uint64{1, 2, 3} {
			if leads[id] != 2 {
				return fmt.Errorf("leaders per node %v", leads)
			}
		}
		return nil
	})
}

// Removing a dead node moves its replicas to the spare node: every store is
// back to three replicas, the node leaves the view, and the new replica
// holds the data (the store serves with it and one old replica only).
func TestClusterRemoveNodeMovesReplicas(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	c.start(c.nodeConfig(4, 3))
	c.waitReady()
	orders := c.Client.Store("default")
	for i := range 20 {
		if _, err := orders.Append(ctx, "order-1", client.Any, ev("Placed", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.stop(2) // dead for good
	if _, err := c.Client.RemoveNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RemoveNode(ctx, 9); err == nil || !strings.Contains(err.Error(), "node_not_found") {
		t.Fatalf("removing an unknown node: %v", err)
	}
	eventually(t, 30*time.Second, func() error {
		v := c.view(ctx)
		for _, nd := range v.Nodes {
			if nd.ID == 2 {
				return fmt.Errorf("node 2 still in the view: %+v", nd)
			}
		}
		for _, s := range v.Stores {
			if !slices.Equal(s.Replicas, []uint64{1, 3, 4}) || len(s.Moves) > 0 || s.Health != wire.StoreHealthy {
				return fmt.Errorf("store %+v", s)
			}
		}
		return nil
	})
	for i := 20; i < 25; i++ {
		if _, err := orders.Append(ctx, "order-1", client.Any, ev("Placed", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Node 4 must hold the data: with node 1 down too, nodes 3 and 4 serve.
	c.stop(1)
	if got := readStream(t, ctx, orders, "order-1"); len(got) != 25 {
		t.Fatalf("%d events", len(got))
	}
	if _, err := orders.Append(ctx, "order-1", client.Exact(24), ev("Placed", "")); err != nil {
		t.Fatal(err)
	}
}

// Removing a live node that leads a store moves its replica off. With one
// replica (R1) the node leads a group of one: the new replica joins first,
// takes the leadership over, and then takes the old one out; with two, the
// other replica takes the leadership over. The removal completes, the node
// leaves the view, and the store keeps every event and takes appends.
func TestClusterRemoveLiveLeaderMovesReplica(t *testing.T) {
	for _, rf := range []int64{1, 2} {
		t.Run(fmt.Sprintf("R%d", rf), func(t *testing.T) { removeLiveLeader(t, rf) })
	}
}

func removeLiveLeader(t *testing.T, rf int64) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	if _, err := c.Client.Stores().Create(ctx, "moved", &client.StoreSettings{ReplicationFactor: &rf}); err != nil {
		t.Fatal(err)
	}
	st := c.Client.Store("moved")
	for i := range 20 {
		if _, err := st.Append(ctx, "s", client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var leader uint64
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "moved")
		if err != nil || len(s.Replicas) != int(rf) || !slices.Contains(s.Replicas, s.Leader) {
			return fmt.Errorf("moved %+v %v", s, err)
		}
		leader = s.Leader
		return nil
	})
	if _, err := c.Client.RemoveNode(ctx, leader); err != nil {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, func() error {
		v := c.view(ctxT(t))
		if err := noNode(v, leader); err != nil {
			return err
		}
		s, err := storeOf(v, "moved")
		if err != nil {
			return err
		}
		if len(s.Replicas) != int(rf) || slices.Contains(s.Replicas, leader) || len(s.Moves) > 0 || !slices.Contains(s.Replicas, s.Leader) {
			return fmt.Errorf("moved %+v", s)
		}
		return nil
	})
	ctx = ctxT(t)
	// With R1 its only replica is on the new node: what it serves, that node holds.
	if got := readStream(t, ctx, st, "s"); len(got) != 20 {
		t.Fatalf("%d events after the move", len(got))
	}
	if _, err := st.Append(ctx, "s", client.Exact(19), ev("E", "after")); err != nil {
		t.Fatal(err)
	}
	if got := readStream(t, ctx, st, "s"); len(got) != 21 {
		t.Fatalf("%d events after an append", len(got))
	}
}

// A store none of whose replicas runs (R1, its node down) answers
// not_written at once, not at the gateway's deadline: the registry lookup
// tells the gateway that no replica runs.
func TestClusterStoreWithoutReplicaFailsFast(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	one := int64(1)
	if _, err := c.Client.Stores().Create(ctx, "solo", &client.StoreSettings{ReplicationFactor: &one}); err != nil {
		t.Fatal(err)
	}
	solo := c.Client.Store("solo")
	var holder uint64
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "solo")
		if err != nil || s.Leader == 0 {
			return fmt.Errorf("solo %+v %v", s, err)
		}
		holder = s.Leader
		return nil
	})
	if _, err := solo.Append(ctx, "s", client.Any, ev("E", "")); err != nil {
		t.Fatal(err)
	}
	c.stop(holder)
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "solo")
		if err != nil || s.Health != wire.StoreUnavailable || s.ReplicasUp != 0 {
			return fmt.Errorf("solo %+v %v", s, err)
		}
		return nil
	})
	once, err := client.Connect(c.url, client.WithoutRetry()) // one answer, not the client's retries
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	start := time.Now()
	_, err = once.Store("solo").Append(ctx, "s", client.Any, ev("E", ""))
	took := time.Since(start)
	if !errors.Is(err, client.ErrNotWritten) {
		t.Fatalf("append to a store without a running replica: %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("not_written after %s: the gateway waited for its deadline", took)
	}
	// The default store (three replicas, two running) still serves.
	if _, err := c.Client.Store("default").Append(context.Background(), "d", client.Any, ev("E", "")); err != nil {
		t.Fatal(err)
	}
}

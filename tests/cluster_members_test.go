package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Membership (issue 16): a restarted member always comes back, a removed
// node stays out, and the view reports what the replicas report.

// removeDeadNode kills a node, removes it from the cluster and waits until
// the view has dropped it and every move is done.
func removeDeadNode(t *testing.T, c *procCluster, id uint64) {
	t.Helper()
	c.kill9(id)
	if _, err := c.Client.RemoveNode(ctxT(t), id); err != nil {
		t.Fatalf("remove node %d: %v", id, err)
	}
	waitRemoved(t, c, id)
}

// waitRemoved waits until the view has dropped node id and no store holds
// or moves a replica of it.
func waitRemoved(t *testing.T, c *procCluster, id uint64) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		if err := noNode(v, id); err != nil {
			return err
		}
		for _, s := range v.Stores {
			if len(s.Moves) > 0 || slices.Contains(s.Replicas, id) {
				return fmt.Errorf("store %+v", s)
			}
		}
		return nil
	})
}

func noNode(v *wire.ClusterView, id uint64) error {
	for _, nd := range v.Nodes {
		if nd.ID == id {
			return fmt.Errorf("node %d in the view: %+v", id, nd)
		}
	}
	return nil
}

// appendSome appends n events to stream in the default store.
func appendSome(t *testing.T, c *client.Client, stream string, n int) {
	t.Helper()
	s := c.Store("default")
	for i := range n {
		if _, err := s.Append(ctxT(t), stream, client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatalf("append %d to %s: %v", i, stream, err)
		}
	}
}

// A cluster formed with -initial-size 3 that lost a node for good still
// takes a restarted member back: -initial-size only matters the first time.
// The restarted node prints its ready line and serves its replicas (the
// stores need it: they have two replicas left).
func TestClusterRestartAfterShrink(t *testing.T) {
	c := startProcCluster(t, 3)
	appendSome(t, c.Client, "before", 5)
	removeDeadNode(t, c, 3)

	c.kill9(1)
	c.restart(1)
	select {
	case <-c.node(1).ready:
	case <-time.After(30 * time.Second):
		t.Fatal("node 1, restarted after the cluster shrank below -initial-size, is not ready within 30s")
	}
	appendSome(t, c.Client, "after", 5)
	if got := readStream(t, ctxT(t), c.Client.Store("default"), "before"); len(got) != 5 {
		t.Fatalf("%d events before the restart", len(got))
	}
	eventually(t, 15*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		for _, s := range v.Stores {
			if !slices.Equal(s.Replicas, []uint64{1, 2}) || s.ReplicasUp != 2 || s.Health != wire.StoreHealthy {
				return fmt.Errorf("store %+v", s)
			}
		}
		return nil
	})
	// The default store's configuration does not differ from the registry
	// because the cluster is smaller than when the store was created. Any
	// node answers: ask enough times for node 1 to answer too.
	for range 12 {
		st, err := c.Client.Stores().Status(ctxT(t), "default")
		if err != nil || st.ConfigMismatch != "" {
			t.Fatalf("default store status %+v %v", st, err)
		}
	}
	// GET /cluster speaks the schema's names (schemas/cluster.md).
	resp, err := http.Get("http://" + c.node(1).http + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var view map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
		t.Fatal(err)
	}
	nodes, _ := view["nodes"].([]any)
	stores, _ := view["stores"].([]any)
	if _, ok := view["meta_leader"]; !ok || len(nodes) != 2 || len(stores) == 0 {
		t.Fatalf("GET /cluster: %v", view)
	}
	if n0, _ := nodes[0].(map[string]any); n0["raft_address"] == nil || n0["last_seen_ms"] == nil {
		t.Fatalf("GET /cluster node: %v", nodes[0])
	}
	if s0, _ := stores[0].(map[string]any); s0["replicas_up"] == nil {
		t.Fatalf("GET /cluster store: %v", stores[0])
	}
}

// A node removed while it was down, restarted on its old data, refuses to
// start with a clear error, exits non-zero, and leaves the cluster alone:
// the registry keeps its leader and the view never lists the node again.
func TestClusterRemovedNodeRefusedOnItsData(t *testing.T) {
	c := startProcCluster(t, 3)
	removeDeadNode(t, c, 3)
	before, err := c.Client.View(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}

	c.restart(3)
	stderr, exit := c.exited(3, 20*time.Second)
	if exit == nil || !strings.Contains(stderr, "node id 3 was removed from the cluster") {
		t.Fatalf("restarted removed node: exit %v, stderr:\n%s", exit, stderr)
	}
	v, err := c.Client.View(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := noNode(v, 3); err != nil || v.MetaLeader != before.MetaLeader {
		t.Fatalf("view after the removed node came back: %v, registry leader %d then %d", err, before.MetaLeader, v.MetaLeader)
	}
	appendSome(t, c.Client, "after", 3)
}

// A node removed while it runs stops serving and exits non-zero, saying
// that it was removed; the cluster serves on without it.
func TestClusterRemovedLiveNodeStops(t *testing.T) {
	c := startProcCluster(t, 3)
	appendSome(t, c.Client, "before", 3)
	if _, err := c.Client.RemoveNode(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	stderr, err := c.exited(3, 40*time.Second)
	if err == nil || !strings.Contains(stderr, "node id 3 was removed from the cluster") {
		t.Fatalf("removed node: exit %v, stderr:\n%s", err, stderr)
	}
	waitRemoved(t, c, 3)
	appendSome(t, c.Client, "after", 3)
}

// A store none of whose replicas runs (R1, its node down) answers
// unavailable at once, not at the gateway's deadline: the registry lookup
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
	var e *codes.Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable {
		t.Fatalf("append to a store without a running replica: %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("unavailable after %s: the gateway waited for its deadline", took)
	}
	// The default store (three replicas, two running) still serves.
	if _, err := c.Client.Store("default").Append(context.Background(), "d", client.Any, ev("E", "")); err != nil {
		t.Fatal(err)
	}
}

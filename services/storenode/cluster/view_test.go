package cluster

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// fakeRaft is this node's Raft state: the leader of each shard it holds
// and the meta shard's membership; it also serves the registry's reads
// from a real meta state machine.
type fakeRaft struct {
	leaders   map[uint64]uint64
	mem       raft.Membership
	meta      *meta.StateMachine
	transfers []uint64 // leadership transfers asked for, to these nodes
	adds      []uint64 // voters added
	removes   []uint64 // members removed
	wakes     []uint64 // shards woken
}

func (f *fakeRaft) Leader(shard uint64) (uint64, bool) { l, ok := f.leaders[shard]; return l, ok }
func (f *fakeRaft) Leads(shard uint64) bool            { return f.leaders[shard] == 1 }
func (f *fakeRaft) Follows(shard uint64) bool          { return f.leaders[shard] > 1 }
func (f *fakeRaft) Membership(context.Context, uint64) (raft.Membership, error) {
	return f.mem, nil
}
func (f *fakeRaft) TransferLeader(_, to uint64) error {
	f.transfers = append(f.transfers, to)
	return nil
}
func (f *fakeRaft) Wake(shard uint64, _ time.Duration) error {
	f.wakes = append(f.wakes, shard)
	return nil
}
func (f *fakeRaft) AddVoter(_ context.Context, _, id uint64, _ string, _ uint64) error {
	f.adds = append(f.adds, id)
	return nil
}
func (f *fakeRaft) Remove(_ context.Context, _, id, _ uint64) error {
	f.removes = append(f.removes, id)
	return nil
}
func (f *fakeRaft) Propose(_ context.Context, _ uint64, data []byte) ([]byte, error) {
	r, err := f.meta.Update(dbsm.Entry{Cmd: data})
	return r.Data, err
}
func (f *fakeRaft) StaleRead(_ uint64, q any) (any, error) { return f.meta.Lookup(q) }

// apply puts a registry change into the meta state machine.
func (f *fakeRaft) apply(t *testing.T, c meta.Command) {
	t.Helper()
	b, err := meta.Encode(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.meta.Update(dbsm.Entry{Cmd: b}); err != nil {
		t.Fatal(err)
	}
}

type fakeReplicas []replica.Spec

func (r fakeReplicas) List() []replica.Spec               { return r }
func (r fakeReplicas) Dormant() []string                  { return nil }
func (r fakeReplicas) Wake(string) error                  { return nil }
func (r fakeReplicas) Applied(string) uint64              { return 42 }
func (r fakeReplicas) LocalUsage(string) (sm.Usage, bool) { return sm.Usage{}, false }

type member bool

func (m member) Member() bool { return bool(m) }

// testCluster is node 1 of a cluster of nodes 1, 2, 3 (registered, meta
// voters), where node 4 joins (a non-voting member, not registered yet) and
// node 7 was removed. Store s has replicas on 1, 2, 3 and node 1 runs its
// replica and leads it; store solo has one replica, on node 1, which does
// not run it.
func testCluster(t *testing.T) (*Cluster, *[]string) {
	f := &fakeRaft{
		leaders: map[uint64]uint64{meta.ShardID: 2, 5: 1},
		mem: raft.Membership{Voters: map[uint64]string{1: "a1", 2: "a2", 3: "a3"}, NonVoters: map[uint64]string{4: "a4"},
			Removed: map[uint64]bool{7: true}},
		meta: meta.New(),
	}
	for id := uint64(1); id <= 3; id++ {
		f.apply(t, meta.Command{Op: meta.OpRegisterNode, NodeID: id, RaftAddress: "a" + string(rune('0'+id))})
	}
	f.apply(t, meta.Command{Op: meta.OpCreate, Store: "s", Settings: meta.Settings{ReplicationFactor: 3}})
	f.apply(t, meta.Command{Op: meta.OpSetStatus, Store: "s", Status: meta.StatusRunning})
	f.apply(t, meta.Command{Op: meta.OpCreate, Store: "solo", Settings: meta.Settings{ReplicationFactor: 1}})
	f.apply(t, meta.Command{Op: meta.OpSetStatus, Store: "solo", Status: meta.StatusRunning})
	c := New(Config{
		ClusterName: "test", NodeID: 1, RaftAddress: "a1", HeartbeatInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Raft: f,
		Registry: registry.New(f, nil, time.Second, nil),
		Replicas: fakeReplicas{{ID: "s", ShardID: 5}}, Membership: member(true), Foreign: &Foreign{},
	})
	c.started = time.Now().Add(-time.Minute) // it has heard every live node
	var sent []string
	c.publish = func(subject string, _ []byte) error { sent = append(sent, subject); return nil }
	return c, &sent
}

// heartbeat delivers a heartbeat from node id hosting stores.
func heartbeat(c *Cluster, id uint64, stores ...string) {
	hb := proto.NodeHeartbeat{Cluster: "test", NodeID: id, RaftAddress: "a", Hosts: stores}
	for range stores {
		hb.Applied, hb.SeesLeader = append(hb.Applied, 40), append(hb.SeesLeader, 1)
	}
	b, _ := wire.Marshal(hb)
	c.onHeartbeat(&nats.Msg{Data: b})
}

// The store health comes from what the replicas report: node 3 is up but
// does not run its replica of s, so s is under-replicated (2 of 3 running),
// and solo, whose only replica node 1 does not run, is unavailable.
func TestViewCountsReplicasThatRun(t *testing.T) {
	c, _ := testCluster(t)
	heartbeat(c, 2, "s")
	heartbeat(c, 3) // up, runs nothing
	v, err := c.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, solo := v.Stores[0], v.Stores[1]
	want := []wire.ReplicaState{{Node: 1, State: wire.ReplicaRunning, Applied: 42, Leader: 1},
		{Node: 2, State: wire.ReplicaRunning, Applied: 40, Leader: 1}, {Node: 3, State: wire.ReplicaNotRunning}}
	if s.Store != "s" || s.ReplicasUp != 2 || s.Health != wire.StoreUnderReplicated || s.Leader != 1 || !slices.Equal(s.ReplicaStates, want) {
		t.Fatalf("store s %+v", s)
	}
	if solo.ReplicasUp != 0 || solo.Health != wire.StoreUnavailable {
		t.Fatalf("store solo %+v", solo)
	}
	h, err := c.Health(context.Background())
	if err != nil || h.Status != wire.HealthCritical || len(h.Problems) != 2 ||
		h.Problems[0] != "store s has 2 of 3 replicas running: node 3 does not run it" {
		t.Fatalf("health %+v %v", h, err)
	}
	// Once node 3 runs its replica, s is healthy.
	heartbeat(c, 3, "s", "solo")
	v, _ = c.View(context.Background())
	if s := v.Stores[0]; s.ReplicasUp != 3 || s.Health != wire.StoreHealthy {
		t.Fatalf("store s %+v", s)
	}
}

// A store none of whose replicas runs cannot have a leader: NoQuorum says so
// (the gateway answers unavailable at once); a store with a quorum running
// can.
func TestNoQuorum(t *testing.T) {
	c, _ := testCluster(t)
	heartbeat(c, 2, "s")
	heartbeat(c, 3)
	stores, _ := c.cfg.Registry.Stores()
	if none, running := c.NoQuorum(stores[1]); !none || running != 0 {
		t.Fatalf("solo: no quorum %v, %d running", none, running)
	}
	if none, _ := c.NoQuorum(stores[0]); none {
		t.Fatal("s has two of three replicas running")
	}
	c.started = time.Now() // it may not have heard every node yet
	if none, _ := c.NoQuorum(stores[1]); none {
		t.Fatal("a node that just started claims to know")
	}
}

// The view lists a joining node (a member of the meta shard, not registered
// yet) as joining, and never a removed one, which is told it was removed.
func TestViewJoiningAndRemovedNodes(t *testing.T) {
	c, sent := testCluster(t)
	if _, err := c.View(context.Background()); err != nil { // reads the membership
		t.Fatal(err)
	}
	heartbeat(c, 2)
	heartbeat(c, 4)
	heartbeat(c, 7)
	heartbeat(c, 9) // neither a member nor registered
	v, err := c.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, nd := range v.Nodes {
		ids = append(ids, nd.ID)
		if nd.ID == 4 && (!nd.Joining || nd.MetaRole != "non_voting" || nd.Health != wire.NodeUp) {
			t.Errorf("joining node %+v", nd)
		}
		if nd.ID != 4 && nd.Joining {
			t.Errorf("node %+v joining", nd)
		}
	}
	if !slices.Equal(ids, []uint64{1, 2, 3, 4}) {
		t.Fatalf("nodes %v", ids)
	}
	if !slices.Equal(*sent, []string{proto.Removed("test", 7)}) {
		t.Fatalf("sent %v", *sent)
	}
}

// A leaving node that leads the meta shard hands the leadership over and is
// not recorded removed: the new leader takes it out of the meta shard
// first. (It used to be forgotten by the registry while still a meta voter,
// and was then listed as a live unregistered node and never told.)
func TestRetireLeavingMetaLeaderHandsOverFirst(t *testing.T) {
	c, _ := testCluster(t)
	f := c.cfg.Raft.(*fakeRaft)
	f.leaders[meta.ShardID] = 1
	f.apply(t, meta.Command{Op: meta.OpRemoveNode, NodeID: 1})
	f.apply(t, meta.Command{Op: meta.OpMoveDone, Store: "s", NodeID: 1})
	f.apply(t, meta.Command{Op: meta.OpMoveDone, Store: "solo", NodeID: 1})
	stores, _ := c.cfg.Registry.Stores()
	c.RetireLeaving(stores)
	nodes, _ := c.cfg.Registry.Nodes()
	if len(nodes) != 3 || len(f.transfers) != 1 || f.transfers[0] == 1 {
		t.Fatalf("nodes %+v, transfers %v", nodes, f.transfers)
	}
}

package cluster

import (
	"slices"
	"testing"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// beatFor delivers a heartbeat from node id running store, at applied, and
// seeing leader lead it.
func beatFor(c *Cluster, id uint64, store string, applied, leader uint64) {
	hb := proto.NodeHeartbeat{Cluster: "test", NodeID: id, RaftAddress: "a", Hosts: []string{store},
		Applied: []uint64{applied}, SeesLeader: []uint64{leader}}
	b, _ := wire.Marshal(hb)
	c.onHeartbeat(&nats.Msg{Data: b})
}

func voters(ids ...uint64) map[uint64]string {
	m := map[uint64]string{}
	for _, id := range ids {
		m[id] = "a"
	}
	return m
}

// A live leader holding the only voter of a store (R1) adds To first, once
// To runs its replica, and hands the leadership to To once To has caught
// up; it never removes itself. Each pass does one step, and a pass that
// finds the step done goes on to the next.
func TestMoveSoleReplicaAddsToFirst(t *testing.T) {
	c, _ := testCluster(t)
	f := c.cfg.Raft.(*fakeRaft)
	s := &meta.Store{ID: "solo", ShardID: 6, Replicas: []uint64{2}}
	mv := meta.Move{From: 1, To: 2}
	step := func() error { return c.moveStep(s, mv, map[uint64]string{2: "a2"}, c.peerTable()) }

	f.mem.Voters = voters(1)
	heartbeat(c, 2) // up, does not run the replica yet
	if err := step(); err == nil || len(f.adds) > 0 {
		t.Fatalf("added node 2 before it ran its replica: %v %v", err, f.adds)
	}
	beatFor(c, 2, "solo", 0, 0) // runs it, in join mode
	if err := step(); err != nil || !slices.Equal(f.adds, []uint64{2}) {
		t.Fatalf("adding node 2: %v %v", err, f.adds)
	}

	f.mem.Voters = voters(1, 2)
	beatFor(c, 2, "solo", 0, 0) // a voter, not caught up
	if err := step(); err == nil || len(f.transfers) > 0 || len(f.adds) != 1 {
		t.Fatalf("handed over to a replica that has not caught up: %v %v %v", err, f.transfers, f.adds)
	}
	beatFor(c, 2, "solo", 40, 1)
	if err := step(); err != nil || !slices.Equal(f.transfers, []uint64{2}) {
		t.Fatalf("handing over to node 2: %v %v", err, f.transfers)
	}
	if len(f.removes) > 0 {
		t.Fatalf("the leader removed a member itself: %v", f.removes)
	}
}

// A leaving leader with another voter hands over to it (even one not heard
// from), and adds nobody; a leader that is not From removes From first, so
// that a dead From never counts towards a bigger group's quorum.
func TestMoveHandsOverOrRemovesFromFirst(t *testing.T) {
	c, _ := testCluster(t)
	f := c.cfg.Raft.(*fakeRaft)
	s := &meta.Store{ID: "pair", ShardID: 6, Replicas: []uint64{2, 3}}
	addrs := map[uint64]string{2: "a2", 3: "a3"}

	f.mem.Voters = voters(1, 3)
	beatFor(c, 2, "pair", 40, 1)
	if err := c.moveStep(s, meta.Move{From: 1, To: 2}, addrs, c.peerTable()); err != nil || !slices.Equal(f.transfers, []uint64{3}) || len(f.adds) > 0 {
		t.Fatalf("hand over: %v transfers %v adds %v", err, f.transfers, f.adds)
	}

	f.mem.Voters = voters(3, 4)
	s.Replicas = []uint64{2, 3}
	if err := c.moveStep(s, meta.Move{From: 4, To: 2}, addrs, c.peerTable()); err != nil || !slices.Equal(f.removes, []uint64{4}) || len(f.adds) > 0 {
		t.Fatalf("remove From first: %v removes %v adds %v", err, f.removes, f.adds)
	}
}

package raft

import (
	"testing"
	"time"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// openHosts opens n hosts with ids 1..n.
func openHosts(t *testing.T, n int) []*Host {
	t.Helper()
	var hs []*Host
	for id := 1; id <= n; id++ {
		h, err := Open(Config{NodeID: uint64(id), Dir: t.TempDir(), RaftAddress: freeAddr(t), RTT: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		hs = append(hs, h)
	}
	return hs
}

// campaignUntilLeader asks h's replica to campaign, as the store replicas
// do, until it leads; it fails past within (well under the election
// timeout of the shards below: 1,000 ticks of 10 ms, 10-20 s).
func campaignUntilLeader(t *testing.T, h *Host, shard uint64, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !h.Leads(shard) {
		if time.Since(start) > within {
			t.Fatalf("no leader %v after the first campaign request, with an election timeout of 10 s", within)
		}
		h.Campaign(shard)
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Campaign elects a new group's first leader without waiting for the
// election timeout, and disturbs nothing once the group has a leader.
func TestCampaignElectsAtOnce(t *testing.T) {
	hs := openHosts(t, 3)
	members := map[uint64]string{}
	for _, h := range hs {
		members[h.NodeID()] = h.nh.RaftAddress()
	}
	rc := ReplicaConfig{ShardID: 11, ElectionTicks: 1000, SnapshotEntries: 100, CompactionOverhead: 10}
	for _, h := range hs {
		if err := h.StartInMemory(rc, members, false, func() dbsm.IStateMachine { return &counter{} }); err != nil {
			t.Fatal(err)
		}
	}
	took := campaignUntilLeader(t, hs[1], 11, 5*time.Second)
	t.Logf("three replicas: host 2 leads %v after the first campaign request", took)
	for _, h := range hs {
		if id, ok := h.Leader(11); !ok || id != 2 {
			// The followers learn of the leader from its first message.
			time.Sleep(200 * time.Millisecond)
			if id, ok = h.Leader(11); !ok || id != 2 {
				t.Fatalf("host %d sees leader %d (%v), want 2", h.NodeID(), id, ok)
			}
		}
	}
	_, term, _ := hs[1].LeaderTerm(11)
	// Replicas that know a leader do not campaign: the leader and its term stay.
	for _, h := range hs {
		if h.Campaign(11) {
			t.Fatalf("host %d campaigned with a leader in place", h.NodeID())
		}
	}
	time.Sleep(200 * time.Millisecond)
	if id, term2, ok := hs[0].LeaderTerm(11); !ok || id != 2 || term2 != term {
		t.Fatalf("after campaign requests to a led group: leader %d term %d (%v), want 2 at term %d", id, term2, ok, term)
	}
	// A shard that does not run here: nothing to ask.
	if hs[0].Campaign(99) {
		t.Fatal("campaigned for a shard with no replica here")
	}

	// One replica: it elects itself.
	solo := ReplicaConfig{ShardID: 12, ElectionTicks: 1000, SnapshotEntries: 100, CompactionOverhead: 10}
	if err := hs[2].StartInMemory(solo, map[uint64]string{3: hs[2].nh.RaftAddress()}, false, func() dbsm.IStateMachine { return &counter{} }); err != nil {
		t.Fatal(err)
	}
	took = campaignUntilLeader(t, hs[2], 12, 5*time.Second)
	t.Logf("one replica: leads %v after the first campaign request", took)
}

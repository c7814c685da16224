package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/logbookdb/logbook/services/storenode/replica"
)

// A replica whose leader went silent is woken (its shard may be quiesced
// and would not notice); one whose leader is alive, or this node, is not.
func TestWakeOrphans(t *testing.T) {
	c, _ := testCluster(t)
	f := c.cfg.Raft.(*fakeRaft)
	f.leaders[6], f.leaders[7], f.leaders[8] = 2, 3, 9
	c.cfg.Replicas = fakeReplicas{{ID: "s", ShardID: 5}, {ID: "a", ShardID: 6}, {ID: "b", ShardID: 7}, {ID: "c", ShardID: 8}, {ID: "d", ShardID: 10}}
	heartbeat(c, 2)
	heartbeat(c, 3)
	now := time.Now()
	c.wakeOrphans(now)
	// Node 9 never sent a heartbeat though this node has run for a minute;
	// shard 10 has no leader (its replica campaigns by itself).
	if want := []uint64{8}; !slices.Equal(f.wakes, want) {
		t.Fatalf("woke %v, want %v", f.wakes, want)
	}
	f.wakes = nil
	c.wakeOrphans(now.Add(c.downAfter() + time.Second)) // 2 and 3 are silent now
	if want := []uint64{6, 7, 8}; !slices.Equal(f.wakes, want) {
		t.Fatalf("woke %v, want %v", f.wakes, want)
	}
	// Just started: a leader not heard from yet is not taken for dead.
	f.wakes = nil
	c.started = now
	c.cfg.Replicas = fakeReplicas{replica.Spec{ID: "c", ShardID: 8}}
	c.wakeOrphans(now)
	if len(f.wakes) != 0 {
		t.Fatalf("woke %v just after the start", f.wakes)
	}
}

package cluster

import (
	"context"
	"slices"
	"time"

	"github.com/logbookdb/logbook/services/storenode/meta"
)

// HandOffLeaderships hands the leadership of every store this node leads,
// and of the meta shard, to a caught-up replica on another live node, and
// waits until they have moved or ctx ends: a graceful stop (SIGTERM, a
// rolling restart) then costs its stores a leadership transfer (tens of
// milliseconds; the writes in flight are held and retried inside the
// cluster) instead of an election timeout after the node goes silent. A
// store with no ready replica elsewhere keeps its leader until the node
// stops. It returns how many leaderships moved and how many stayed.
func (c *Cluster) HandOffLeaderships(ctx context.Context) (moved, stayed int) {
	peers := c.peerTable()
	now := time.Now()
	leads := map[uint64]int{}
	for id, p := range peers {
		if c.peerUp(p, now) {
			leads[id] = len(p.hb.Leads)
		}
	}
	var shards []uint64
	for _, spec := range c.cfg.Replicas.List() {
		if !c.cfg.Raft.Leads(spec.ShardID) {
			continue
		}
		s, err := c.cfg.Registry.Store(spec.ID)
		if err != nil || s == nil {
			stayed++
			continue
		}
		target := c.handOffTarget(s, peers, leads)
		if target == 0 || c.cfg.Raft.TransferLeader(s.ShardID, target) != nil {
			stayed++
			continue
		}
		leads[target]++
		shards = append(shards, s.ShardID)
	}
	if c.cfg.Raft.Leads(meta.ShardID) {
		if target := c.metaHandOffTarget(ctx, peers, now); target != 0 && c.cfg.Raft.TransferLeader(meta.ShardID, target) == nil {
			shards = append(shards, meta.ShardID)
		} else {
			stayed++
		}
	}
	// Wait for the transfers: each is over once this node no longer leads.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(shards) > 0 {
		shards = slices.DeleteFunc(shards, func(shard uint64) bool {
			if !c.cfg.Raft.Leads(shard) {
				moved++
				return true
			}
			return false
		})
		if len(shards) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			stayed += len(shards)
			return moved, stayed
		case <-tick.C:
		}
	}
	return moved, stayed
}

// handOffTarget picks the replica of s to hand its leadership to: on a
// live node, running, caught up (readyToLead), leading the fewest stores.
func (c *Cluster) handOffTarget(s *meta.Store, peers map[uint64]peer, leads map[uint64]int) uint64 {
	var target uint64
	for _, r := range s.Replicas {
		if r == c.cfg.NodeID || !c.readyToLead(s, r, peers) {
			continue
		}
		if target == 0 || leads[r] < leads[target] {
			target = r
		}
	}
	return target
}

// metaHandOffTarget picks a live voter of the meta shard other than this
// node (dragonboat's transfer brings it up to date before it campaigns).
func (c *Cluster) metaHandOffTarget(ctx context.Context, peers map[uint64]peer, now time.Time) uint64 {
	mctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	mem, err := c.cfg.Raft.Membership(mctx, meta.ShardID)
	if err != nil {
		return 0
	}
	var ids []uint64
	for id := range mem.Voters {
		if p, ok := peers[id]; ok && id != c.cfg.NodeID && c.peerUp(p, now) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	slices.Sort(ids)
	return ids[0]
}

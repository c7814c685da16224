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
	c.draining.Store(true) // from now on no balancer hands this node a leadership
	peers := c.peerTable()
	pinged := map[uint64]bool{}
	alive := func(node uint64) bool { // one ping per node: a frozen one costs pingTimeout once
		ok, seen := pinged[node]
		if !seen {
			ok = c.alive(node)
			pinged[node] = ok
		}
		return ok
	}
	now := time.Now()
	leads := map[uint64]int{}
	for id, p := range peers {
		if c.peerUp(p, now) {
			leads[id] = len(p.hb.Leads)
		}
	}
	// The shards handed over, with their target: a transfer dragonboat
	// abandons (the target did not catch up within an election timeout) is
	// asked for again.
	type handOff struct{ shard, to uint64 }
	var pending []handOff
	for _, spec := range c.cfg.Replicas.List() {
		if !c.cfg.Raft.Leads(spec.ShardID) {
			continue
		}
		s, err := c.cfg.Registry.Store(spec.ID)
		if err != nil || s == nil {
			stayed++
			continue
		}
		target := c.handOffTarget(s, peers, leads, alive)
		if target == 0 || c.cfg.Raft.TransferLeader(s.ShardID, target) != nil {
			stayed++
			continue
		}
		leads[target]++
		pending = append(pending, handOff{s.ShardID, target})
	}
	if c.cfg.Raft.Leads(meta.ShardID) {
		if target := c.metaHandOffTarget(ctx, peers, now); target != 0 && c.cfg.Raft.TransferLeader(meta.ShardID, target) == nil {
			pending = append(pending, handOff{meta.ShardID, target})
		} else {
			stayed++
		}
	}
	// Wait for the transfers: each is over once this node no longer leads.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	again := time.Now().Add(handOffRetry)
	for len(pending) > 0 {
		pending = slices.DeleteFunc(pending, func(h handOff) bool {
			if !c.cfg.Raft.Leads(h.shard) {
				moved++
				return true
			}
			return false
		})
		if len(pending) == 0 {
			break
		}
		if time.Now().After(again) {
			for _, h := range pending {
				c.cfg.Raft.TransferLeader(h.shard, h.to) // an error: the next round asks again
			}
			again = time.Now().Add(handOffRetry)
		}
		select {
		case <-ctx.Done():
			stayed += len(pending)
			return moved, stayed
		case <-tick.C:
		}
	}
	return moved, stayed
}

// handOffRetry is how often a transfer still pending is asked for again.
const handOffRetry = 500 * time.Millisecond

// handOffTarget picks the replica of s to hand its leadership to: one that
// runs on a live node (as its heartbeat says, and answering a ping now),
// the most caught up first,
// then the one leading the fewest stores. It need not be caught up now:
// dragonboat's transfer brings the target up to date before it campaigns
// (and gives up after an election timeout), and the writes in between are
// held here.
func (c *Cluster) handOffTarget(s *meta.Store, peers map[uint64]peer, leads map[uint64]int, alive func(uint64) bool) uint64 {
	var target, best uint64
	now := time.Now()
	for _, r := range s.Replicas {
		p, ok := peers[r]
		if r == c.cfg.NodeID || !ok || !c.peerUp(p, now) {
			continue
		}
		runs, applied, _ := p.runs(s.ID)
		if !runs || !alive(r) {
			continue
		}
		if target == 0 || applied > best || (applied == best && leads[r] < leads[target]) {
			target, best = r, applied
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

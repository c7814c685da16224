package cluster

import (
	"maps"
	"slices"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
)

// The leader balancer keeps store leaderships spread across storenodes:
// elections alone tend to pile leaders onto whichever node started first or
// survived a failure. Every balanceEvery heartbeats, a node that leads at
// least two stores more than another live replica of one of its stores hands
// that store's leadership over (one transfer per pass, so the cluster
// converges without churning). Leader counts come from heartbeats.
const balanceEvery = 5

// balanceQuiet is how many heartbeat intervals (10 s by default) the set of
// live nodes (and their processes) must have stayed the same before the
// balancer moves a leadership: a
// node that just came back is still catching up, and a transfer to a
// replica that trails holds the store's writes until it has caught up or
// dragonboat gives up after an election timeout. Right after a failure the
// leaders stay where the elections put them.
const balanceQuiet = 10

// noteMembers records when the live nodes, or the process of one of them,
// last changed as this node sees them (every beat; heartbeat goroutine
// only).
func (c *Cluster) noteMembers(now time.Time) {
	peers := c.peerTable()
	live := map[uint64]int64{}
	for id, p := range peers {
		if c.peerUp(p, now) {
			live[id] = p.hb.Started
		}
	}
	if c.changedAt.IsZero() || !maps.Equal(live, c.lastLive) {
		c.lastLive, c.changedAt = live, now
	}
}

// pingTimeout bounds the liveness check of a transfer target.
const pingTimeout = 200 * time.Millisecond

// alive asks node whether it runs now (proto.Ping).
func (c *Cluster) alive(node uint64) bool {
	_, err := c.cfg.NATS.Request(proto.Ping(c.cfg.ClusterName, node), nil, pingTimeout)
	return err == nil
}

func (c *Cluster) balanceLeaders() {
	if c.cfg.DisableBalancer {
		return
	}
	peers := c.peerTable()
	now := time.Now()
	if now.Sub(c.changedAt) < balanceQuiet*c.cfg.HeartbeatInterval {
		return
	}
	pinged := map[uint64]bool{} // one ping per node and pass: a frozen one costs pingTimeout once
	leads := map[uint64]int{}
	up := map[uint64]bool{}
	for id, p := range peers {
		if c.peerUp(p, now) {
			up[id] = true
			leads[id] = len(p.hb.Leads)
		}
	}
	me := c.cfg.NodeID
	mine := slices.Clone(peers[me].hb.Leads)
	slices.Sort(mine)
	for _, id := range mine {
		s, err := c.cfg.Registry.Store(id)
		if err != nil {
			return
		}
		if s == nil {
			continue
		}
		var target uint64
		for _, r := range s.Replicas {
			if r != me && up[r] && (target == 0 || leads[r] < leads[target]) {
				target = r
			}
		}
		if target == 0 || leads[me]-leads[target] < 2 {
			continue
		}
		// A heartbeat can be a second old: a node that died or froze since
		// still looks up, and a transfer to it would hold the store's
		// writes for an election timeout before dragonboat gives up.
		// (dragonboat's transfer brings a replica that trails up to date.)
		if !peers[target].hosting(s.ID) {
			continue
		}
		alive, ok := pinged[target]
		if !ok {
			alive = c.alive(target)
			pinged[target] = alive
		}
		if !alive {
			continue
		}
		if err := c.cfg.Raft.TransferLeader(s.ShardID, target); err != nil {
			c.cfg.Logger.Debug("leader transfer", "store", id, "to", target, "err", err)
			continue
		}
		c.cfg.Logger.Info("moving store leadership to balance the cluster", "store", id, "to", target, "leads_here", leads[me], "leads_there", leads[target])
		return
	}
}

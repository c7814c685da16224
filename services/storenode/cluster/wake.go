package cluster

import (
	"time"
)

// wakeOrphans wakes this node's replicas whose leader, as they know it, is
// a node that has gone silent: a quiesced store shard does not heartbeat,
// so its followers would not notice a dead leader by themselves (see the
// store replicas' DESIGN.md, "Idle stores"). Woken, such a follower
// campaigns at its next Raft tick, its election clock having run on while
// it was quiesced. Runs at every beat, on the heartbeat goroutine.
//
// A leader this node has never heard from counts as silent only once this
// node has run longer than a node may stay silent: right after a start no
// heartbeat has arrived yet, and the replicas just started are not
// quiesced anyway.
func (c *Cluster) wakeOrphans(now time.Time) {
	grace := now.Sub(c.started) > c.downAfter()
	silent := map[uint64]bool{} // leader node -> silent
	c.mu.Lock()
	for id, p := range c.peers {
		silent[id] = !c.peerUp(p, now)
	}
	c.mu.Unlock()
	for _, r := range c.cfg.Replicas.List() {
		leader, ok := c.cfg.Raft.Leader(r.ShardID)
		if !ok || leader == c.cfg.NodeID {
			continue
		}
		gone, known := silent[leader]
		if !gone && (known || !grace) {
			continue
		}
		if err := c.cfg.Raft.Wake(r.ShardID, c.downAfter()); err != nil {
			c.cfg.Logger.Debug("cannot wake a store replica whose leader is silent", "store", r.ID, "leader", leader, "err", err)
			continue
		}
		c.cfg.Logger.Debug("woke a store replica whose leader is silent", "store", r.ID, "leader", leader)
	}
}

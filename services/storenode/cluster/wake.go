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

// wakesPerBeat bounds the dormant replicas wakeBehind starts at one beat.
const wakesPerBeat = 64

// wakeBehind starts this node's dormant replicas of stores that have moved
// on without them: a live node reports its replica of the store running
// with more applied than this one had when it stopped. That is a store in
// use elsewhere whose quorum may need this replica (after this node
// restarted with it dormant, or it slept while its leader stayed up). A
// store that went dormant everywhere at the same index wakes nowhere.
// Runs at every beat, on the heartbeat goroutine.
func (c *Cluster) wakeBehind(now time.Time) {
	dormant := c.cfg.Replicas.Dormant()
	if len(dormant) == 0 {
		return
	}
	peers := c.peerTable()
	woken := 0
	for _, id := range dormant {
		if woken == wakesPerBeat {
			return
		}
		mine := c.cfg.Replicas.Applied(id)
		ahead := false
		for pid, p := range peers {
			if pid == c.cfg.NodeID || !c.peerUp(p, now) || p.dormant[id] {
				continue
			}
			if runs, applied, _ := p.runs(id); runs && applied > mine {
				ahead = true
				break
			}
		}
		if !ahead {
			continue
		}
		woken++
		if err := c.cfg.Replicas.Wake(id); err != nil {
			c.cfg.Logger.Warn("cannot wake a dormant store replica that fell behind", "store", id, "err", err)
			continue
		}
		c.cfg.Logger.Debug("woke a dormant store replica: its store moved on elsewhere", "store", id)
	}
}

package cluster

import (
	"context"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// A node removed from the cluster (cluster.remove_node, then taken out of
// the meta shard by RetireLeaving) may still run: it was alive when it was
// removed, or it was restarted on its old data. Its id stays in the meta
// shard's removed set for good, so what a node once read there is never
// wrong later. Every node remembers the removed ids it has read (the view
// reads the meta membership; the meta leader reads it at every heartbeat and
// notes the nodes it removes itself). Such a node's heartbeats are ignored
// (the view never lists it) and answered with a notice on
// proto.Removed(cluster, node), on which its formation stops it.

// noteRemoved records the removed ids of a meta membership read.
func (c *Cluster) noteRemoved(mem raft.Membership) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range mem.Removed {
		c.removed[id] = true
		delete(c.peers, id)
	}
}

// isRemoved reports whether id is known to be removed from the cluster.
func (c *Cluster) isRemoved(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removed[id]
}

// refreshRemoved reads the meta membership on the meta leader, so that the
// heartbeats of removed nodes are answered at once wherever they come from.
func (c *Cluster) refreshRemoved() {
	if !c.cfg.Raft.Leads(meta.ShardID) {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HeartbeatInterval)
	defer cancel()
	if mem, err := c.cfg.Raft.Membership(ctx, meta.ShardID); err == nil {
		c.noteRemoved(mem)
	}
}

// tellRemoved tells a removed node that heartbeats that it was removed.
func (c *Cluster) tellRemoved(id uint64) {
	b, err := wire.Marshal(proto.RemovedNotice{Cluster: c.cfg.ClusterName, NodeID: id, By: c.cfg.NodeID})
	if err == nil {
		c.publish(proto.Removed(c.cfg.ClusterName, id), b)
	}
}

package cluster

import (
	"context"
	"slices"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// Removing a storenode (cluster.remove_node) marks it leaving in the
// registry and gives each store it holds a Move{From, To}. The store's
// leader carries the move out, one step per reconciler pass, each step
// idempotent so that any crash resumes it:
//
//  1. take From out of the store's Raft group (first, so that a dead From
//     never counts towards the quorum of a bigger group);
//  2. add To (if a spare node exists), whose reconciler starts the replica
//     in join mode;
//  3. once To's heartbeat shows the replica running, record the move done.
//
// From never removes itself: while it leads, it hands the leadership to
// another voter of the store, and the new leader takes it out. When there
// is none (From is alive and holds the only voter, as with one replica),
// From adds To first, waits until To's replica runs and has caught up, and
// hands the leadership to To (handover.go).
//
// The leaving node's own reconciler deletes its replica once the move is
// done; the meta leader takes the node out of the meta shard and the
// registry when nothing is placed on it any more.

// moveStepTimeout bounds each Raft membership call.
const moveStepTimeout = 5 * time.Second

// DriveMoves does the next step of every move of a store this node leads.
// The reconciler calls it on each pass, with the registry it read.
func (c *Cluster) DriveMoves(stores []*meta.Store, addrs map[uint64]string) {
	var peers map[uint64]peer
	for _, s := range stores {
		if len(s.Moves) == 0 || s.Status == meta.StatusRemoving {
			continue
		}
		if !c.cfg.Raft.Leads(s.ShardID) {
			continue
		}
		if peers == nil {
			peers = c.peerTable()
		}
		mv := s.Moves[0]
		if err := c.moveStep(s, mv, addrs, peers); err != nil {
			c.cfg.Logger.Info("moving a replica", "store", s.ID, "from", mv.From, "to", mv.To, "step", err)
		}
	}
}

// moveStep does the next step of one move; it returns why it stopped short.
func (c *Cluster) moveStep(s *meta.Store, mv meta.Move, addrs map[uint64]string, peers map[uint64]peer) error {
	ctx, cancel := context.WithTimeout(c.ctx, moveStepTimeout)
	defer cancel()
	mem, err := c.cfg.Raft.Membership(ctx, s.ShardID)
	if err != nil {
		return err
	}
	if _, in := mem.Voters[mv.From]; in {
		if mv.From == c.cfg.NodeID {
			return c.handOver(ctx, s, mv, mem, addrs, peers)
		}
		if err := c.cfg.Raft.Remove(ctx, s.ShardID, mv.From, mem.ConfigChangeID); err != nil {
			return err
		}
		c.cfg.Logger.Info("took a leaving node's replica out of the store", "store", s.ID, "node", mv.From)
		return nil
	}
	if mv.To != 0 {
		if _, in := mem.Voters[mv.To]; !in {
			addr, ok := addrs[mv.To]
			if !ok {
				return codes.New(codes.Unavailable, "node %d is not registered", mv.To)
			}
			if err := c.cfg.Raft.AddVoter(ctx, s.ShardID, mv.To, addr, mem.ConfigChangeID); err != nil {
				return err
			}
			c.cfg.Logger.Info("added a replica on another node", "store", s.ID, "node", mv.To)
			return nil
		}
		if p, ok := peers[mv.To]; !ok || !p.hosting(s.ID) {
			return codes.New(codes.Unavailable, "waiting for node %d to run its replica", mv.To)
		}
	}
	_, err = c.cfg.Registry.Propose(c.ctx, meta.Command{Op: meta.OpMoveDone, Store: s.ID, NodeID: mv.From})
	return err
}

// RetireLeaving runs on the meta leader: a leaving node with nothing
// placed on it leaves the meta shard, then the registry.
func (c *Cluster) RetireLeaving(stores []*meta.Store) {
	if !c.cfg.Raft.Leads(meta.ShardID) {
		return
	}
	nodes, err := c.cfg.Registry.Nodes()
	if err != nil {
		return
	}
	for _, nd := range nodes {
		if !nd.Leaving {
			continue
		}
		busy := slices.ContainsFunc(stores, func(s *meta.Store) bool { return s.HasReplica(nd.ID) || s.MovingFrom(nd.ID) })
		if busy {
			continue
		}
		if err := c.leaveMeta(nd.ID); err != nil {
			c.cfg.Logger.Info("removing a node from the registry", "node", nd.ID, "step", err)
			continue
		}
		if _, err := c.cfg.Registry.Propose(c.ctx, meta.Command{Op: meta.OpNodeRemoved, NodeID: nd.ID}); err == nil {
			c.cfg.Logger.Info("node removed from the cluster", "node", nd.ID)
		}
	}
}

// leaveMeta takes a node out of the meta shard's membership.
func (c *Cluster) leaveMeta(id uint64) error {
	ctx, cancel := context.WithTimeout(c.ctx, moveStepTimeout)
	defer cancel()
	mem, err := c.cfg.Raft.Membership(ctx, meta.ShardID)
	if err != nil {
		return err
	}
	c.noteRemoved(mem)
	_, voter := mem.Voters[id]
	_, nonVoter := mem.NonVoters[id]
	if !voter && !nonVoter {
		return nil
	}
	if id == c.cfg.NodeID {
		// Hand the leadership over; the new leader removes this node. Not
		// done yet: the caller must not record the node removed.
		for other := range mem.Voters {
			if other != id {
				if err := c.cfg.Raft.TransferLeader(meta.ShardID, other); err != nil {
					return err
				}
				return codes.New(codes.Unavailable, "handing the meta leadership to node %d first", other)
			}
		}
		return codes.New(codes.Unavailable, "no other meta member to lead")
	}
	if err := c.cfg.Raft.Remove(ctx, meta.ShardID, id, mem.ConfigChangeID); err != nil {
		return err
	}
	c.noteRemoved(raft.Membership{Removed: map[uint64]bool{id: true}})
	return nil
}

// RemoveNode serves cluster.remove_node on the meta leader.
func (c *Cluster) RemoveNode(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeRemoveNode(data, c.cfg.Limits)
	if err != nil {
		return nil, err
	}
	r, err := c.cfg.Registry.Propose(ctx, meta.Command{Op: meta.OpRemoveNode, NodeID: uint64(req.NodeID)})
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	c.cfg.Changed()
	return &wire.RemoveNodeReply{NodeID: uint64(req.NodeID), Status: "leaving"}, nil
}

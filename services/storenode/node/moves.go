package node

import (
	"context"
	"slices"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
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
// The leaving node's own reconciler deletes its replica once the move is
// done; the meta leader takes the node out of the meta shard and the
// registry when nothing is placed on it any more.

// moveStepTimeout bounds each Raft membership call.
const moveStepTimeout = 5 * time.Second

func (n *Node) driveMoves(stores []*meta.Store, addrs map[uint64]string) {
	var peers map[uint64]peer
	for _, s := range stores {
		if len(s.Moves) == 0 || s.Status == meta.StatusRemoving {
			continue
		}
		if !n.host.Leads(s.ShardID) {
			continue
		}
		if peers == nil {
			peers = n.peerTable()
		}
		mv := s.Moves[0]
		if err := n.moveStep(s, mv, addrs, peers); err != nil {
			n.cfg.Logger.Info("moving a replica", "store", s.ID, "from", mv.From, "to", mv.To, "step", err)
		}
	}
}

// moveStep does the next step of one move; it returns why it stopped short.
func (n *Node) moveStep(s *meta.Store, mv meta.Move, addrs map[uint64]string, peers map[uint64]peer) error {
	ctx, cancel := context.WithTimeout(n.followCtx, moveStepTimeout)
	defer cancel()
	mem, err := n.host.Membership(ctx, s.ShardID)
	if err != nil {
		return err
	}
	if _, in := mem.Voters[mv.From]; in {
		if mv.From == n.cfg.NodeID {
			// A leader does not remove itself: hand leadership over first.
			for _, r := range s.Replicas {
				if _, ok := mem.Voters[r]; ok && r != mv.From {
					return n.host.TransferLeader(s.ShardID, r)
				}
			}
			return codes.New(codes.Unavailable, "no other replica to lead")
		}
		if err := n.host.Remove(ctx, s.ShardID, mv.From, mem.ConfigChangeID); err != nil {
			return err
		}
		n.cfg.Logger.Info("took a leaving node's replica out of the store", "store", s.ID, "node", mv.From)
		return nil
	}
	if mv.To != 0 {
		if _, in := mem.Voters[mv.To]; !in {
			addr, ok := addrs[mv.To]
			if !ok {
				return codes.New(codes.Unavailable, "node %d is not registered", mv.To)
			}
			if err := n.host.AddVoter(ctx, s.ShardID, mv.To, addr, mem.ConfigChangeID); err != nil {
				return err
			}
			n.cfg.Logger.Info("added a replica on another node", "store", s.ID, "node", mv.To)
			return nil
		}
		if p, ok := peers[mv.To]; !ok || !slices.Contains(p.hb.Hosts, s.ID) {
			return codes.New(codes.Unavailable, "waiting for node %d to run its replica", mv.To)
		}
	}
	_, err = n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpMoveDone, Store: s.ID, NodeID: mv.From})
	return err
}

// retireLeavingNodes runs on the meta leader: a leaving node with nothing
// placed on it leaves the meta shard, then the registry.
func (n *Node) retireLeavingNodes(stores []*meta.Store) {
	if !n.host.Leads(meta.ShardID) {
		return
	}
	nodes, err := n.reg.Nodes()
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
		if err := n.leaveMeta(nd.ID); err != nil {
			n.cfg.Logger.Info("removing a node from the registry", "node", nd.ID, "step", err)
			continue
		}
		if _, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpNodeRemoved, NodeID: nd.ID}); err == nil {
			n.cfg.Logger.Info("node removed from the cluster", "node", nd.ID)
		}
	}
}

// leaveMeta takes a node out of the meta shard's membership.
func (n *Node) leaveMeta(id uint64) error {
	ctx, cancel := context.WithTimeout(n.followCtx, moveStepTimeout)
	defer cancel()
	mem, err := n.host.Membership(ctx, meta.ShardID)
	if err != nil {
		return err
	}
	_, voter := mem.Voters[id]
	_, nonVoter := mem.NonVoters[id]
	if !voter && !nonVoter {
		return nil
	}
	if id == n.cfg.NodeID {
		for other := range mem.Voters {
			if other != id {
				return n.host.TransferLeader(meta.ShardID, other)
			}
		}
		return codes.New(codes.Unavailable, "no other meta member to lead")
	}
	return n.host.Remove(ctx, meta.ShardID, id, mem.ConfigChangeID)
}

// removeNode serves cluster.remove_node on the meta leader.
func (n *Node) removeNode(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeRemoveNode(data, n.cfg.Limits)
	if err != nil {
		return nil, err
	}
	r, err := n.reg.Propose(ctx, meta.Command{Op: meta.OpRemoveNode, NodeID: uint64(req.NodeID)})
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	n.pokeReconcile()
	return &wire.RemoveNodeReply{NodeID: uint64(req.NodeID), Status: "leaving"}, nil
}

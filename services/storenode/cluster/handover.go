package cluster

import (
	"context"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// transferLag is how many Raft entries a replica may trail this leader's
// applied index, as its last heartbeat shows, and still be handed the
// leadership: heartbeats are an interval old, and dragonboat's transfer
// sends the rest before the target campaigns.
const transferLag = 256

// handOver moves the leadership of s off this node, mv.From, which never
// removes itself from the store's group: the new leader does, on its next
// pass. It hands over to a voter of the store whose replica runs and has
// caught up, else to any other voter (as its heartbeat may not say). When
// there is no other voter (From holds the only one, with one replica, or
// every other was taken out), it adds To first: once To's replica runs and
// heartbeats, as a voter, then it waits until To has caught up and hands
// the leadership to it. Adding To while From is alive and leads is safe:
// a dead From never leads, so never takes this path.
func (c *Cluster) handOver(ctx context.Context, s *meta.Store, mv meta.Move, mem raft.Membership, addrs map[uint64]string, peers map[uint64]peer) error {
	var others []uint64
	for _, r := range s.Replicas {
		if _, ok := mem.Voters[r]; ok && r != mv.From {
			if c.readyToLead(s, r, peers) {
				return c.transfer(s, r)
			}
			others = append(others, r)
		}
	}
	for _, r := range others {
		if r != mv.To {
			return c.transfer(s, r)
		}
	}
	if len(others) > 0 {
		return codes.New(codes.Unavailable, "waiting for node %d to catch up before it leads", mv.To)
	}
	if mv.To == 0 {
		return codes.New(codes.Unavailable, "no other replica to lead")
	}
	addr, ok := addrs[mv.To]
	if !ok {
		return codes.New(codes.Unavailable, "node %d is not registered", mv.To)
	}
	if p, ok := peers[mv.To]; !ok || !c.peerUp(p, time.Now()) || !p.hosting(s.ID) {
		return codes.New(codes.Unavailable, "waiting for node %d to run its replica before adding it", mv.To)
	}
	if err := c.cfg.Raft.AddVoter(ctx, s.ShardID, mv.To, addr, mem.ConfigChangeID); err != nil {
		return err
	}
	c.cfg.Logger.Info("added a replica on another node before handing the leadership to it", "store", s.ID, "node", mv.To)
	return nil
}

// readyToLead reports whether node's replica of s runs, sees this node
// lead and trails it by at most transferLag entries, as its heartbeat says.
func (c *Cluster) readyToLead(s *meta.Store, node uint64, peers map[uint64]peer) bool {
	p, ok := peers[node]
	if !ok || !c.peerUp(p, time.Now()) {
		return false
	}
	runs, applied, leader := p.runs(s.ID)
	return runs && leader == c.cfg.NodeID && applied+transferLag >= c.cfg.Replicas.Applied(s.ID)
}

// transfer asks Raft to hand the leadership of s to node.
func (c *Cluster) transfer(s *meta.Store, node uint64) error {
	if err := c.cfg.Raft.TransferLeader(s.ShardID, node); err != nil {
		return err
	}
	c.cfg.Logger.Info("handing the leadership over before leaving the store", "store", s.ID, "node", node)
	return nil
}

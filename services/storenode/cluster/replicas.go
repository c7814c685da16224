package cluster

import (
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// A store's health comes from what its replicas report about themselves in
// their nodes' heartbeats (the stores a node hosts, and per replica its
// applied index and the leader it sees), not from their nodes being up: a
// node that is up but does not run a replica placed on it (it could not
// start it, or has not yet) leaves its store under-replicated, visible
// before the next failure makes it unavailable.

// replicaStates reports each replica of s, in the order of s.Replicas.
func (c *Cluster) replicaStates(s *meta.Store, peers map[uint64]peer, now time.Time) []wire.ReplicaState {
	out := make([]wire.ReplicaState, 0, len(s.Replicas))
	for _, id := range s.Replicas {
		out = append(out, c.replicaState(s.ID, id, peers, now))
	}
	return out
}

// replicaState reports node's replica of store as the node's latest
// heartbeat (this node's own state for itself) tells it.
func (c *Cluster) replicaState(store string, node uint64, peers map[uint64]peer, now time.Time) wire.ReplicaState {
	rs := wire.ReplicaState{Node: node, State: wire.ReplicaNodeDown}
	p, ok := peers[node]
	if !ok || !c.peerUp(p, now) {
		return rs
	}
	runs, applied, leader := p.runs(store)
	switch {
	case !runs:
		rs.State = wire.ReplicaNotRunning
	case p.dormant[store]:
		rs.State, rs.Applied = wire.ReplicaDormant, applied
	default:
		rs.State, rs.Applied, rs.Leader = wire.ReplicaRunning, applied, leader
	}
	return rs
}

// NoQuorum reports whether fewer than a quorum of s's replicas run (or are
// dormant: a request starts them), as the heartbeats show, and how many
// do: the store cannot have a leader now. It
// says false whenever it cannot be sure: until this node has run long
// enough to have heard every live node, while the store is created (its
// replicas are starting) or removed, and while replicas move (its Raft
// group is not its placement).
func (c *Cluster) NoQuorum(s *meta.Store) (bool, int) {
	now := time.Now()
	settled := s.Status == meta.StatusRunning || s.Status == meta.StatusDegraded
	if !settled || len(s.Moves) > 0 || now.Sub(c.started) <= c.downAfter() {
		return false, 0
	}
	peers := c.peerTable()
	running := 0
	for _, rs := range c.replicaStates(s, peers, now) {
		if rs.State == wire.ReplicaRunning || rs.State == wire.ReplicaDormant {
			running++
		}
	}
	return running < len(s.Replicas)/2+1, running
}

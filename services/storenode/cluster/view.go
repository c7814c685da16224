package cluster

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// The cluster view (cluster.view) and health (cluster.health) are answered
// by any storenode from its registry replica, its own Raft state and the
// heartbeats it has received. See docs/cluster.md for how to read them.

// View returns the cluster view as this node sees it.
func (c *Cluster) View(ctx context.Context) (*wire.ClusterView, error) {
	now := time.Now()
	v := &wire.ClusterView{Cluster: c.cfg.ClusterName, AnsweredBy: c.cfg.NodeID, Time: now.UnixNano(),
		Nodes: []wire.ClusterNode{}, Stores: []wire.ClusterStore{}, Drift: []wire.Drift{}}
	stores, err := c.cfg.Registry.Stores()
	if err != nil {
		return nil, raft.Error(err)
	}
	nodes, err := c.cfg.Registry.Nodes()
	if err != nil {
		return nil, err
	}
	if uid, err := c.cfg.Registry.UID(); err == nil {
		v.UID = uid
	}
	if cv, err := c.cfg.Registry.ClusterVersion(); err == nil {
		v.ClusterVersion = &wire.ClusterVersion{StoreCommand: cv.Store, MetaCommand: cv.Meta}
	}
	if l, ok := c.cfg.Registry.Leader(); ok {
		v.MetaLeader = l
	}
	roles, known := c.metaRoles(ctx)
	peers := c.peerTable() // after metaRoles, which forgets removed nodes
	leaderOf := c.leaders(peers, now)
	placed := map[uint64]int{}
	led := map[uint64]int{}
	for _, s := range stores {
		cs := c.storeView(s, peers, leaderOf[s.ID], now)
		for _, r := range s.Replicas {
			placed[r]++
		}
		if cs.Leader != 0 {
			led[cs.Leader]++
		}
		v.Stores = append(v.Stores, cs)
	}
	registered := map[uint64]string{}
	leaving := map[uint64]bool{}
	for _, nd := range nodes {
		registered[nd.ID] = nd.RaftAddress
		leaving[nd.ID] = nd.Leaving
	}
	// A live node that is not registered yet is listed while it joins: once
	// it is a member of the meta shard (or when the membership cannot be
	// read). A removed node is never listed (its heartbeats are not kept).
	joining := map[uint64]bool{}
	for id, p := range peers {
		if _, ok := registered[id]; !ok && c.peerUp(p, now) && (!known || roles[id] != "") {
			registered[id] = p.hb.RaftAddress
			joining[id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(registered)) {
		cn := wire.ClusterNode{ID: id, RaftAddress: registered[id], Health: wire.NodeDown, LastSeenMs: -1,
			MetaRole: roles[id], MetaLeader: id == v.MetaLeader, Leads: led[id], Replicas: placed[id],
			Leaving: leaving[id], Joining: joining[id]}
		if p, ok := peers[id]; ok {
			cn.LastSeenMs = now.Sub(p.received).Milliseconds()
			cn.DataDir, cn.Version, cn.StartedAt = p.hb.DataDir, p.hb.Version, p.hb.Started
			cn.StoreCommandVersion, cn.MetaCommandVersion = p.hb.StoreCommandVersion, p.hb.MetaCommandVersion
			cn.DataFormat = p.hb.DataFormat
			if c.peerUp(p, now) {
				cn.Health = wire.NodeUp
			}
		}
		v.Nodes = append(v.Nodes, cn)
	}
	v.Drift = c.drift(peers, now)
	return v, nil
}

// metaRoles reads the meta shard's membership: each member's role, and
// whether it could be read. The removed ids it holds are remembered.
func (c *Cluster) metaRoles(ctx context.Context) (map[uint64]string, bool) {
	roles := map[uint64]string{}
	mctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	mem, err := c.cfg.Raft.Membership(mctx, meta.ShardID)
	if err != nil {
		return roles, false
	}
	c.noteRemoved(mem)
	for id := range mem.Voters {
		roles[id] = "voter"
	}
	for id := range mem.NonVoters {
		roles[id] = "non_voting"
	}
	return roles, true
}

// leaders maps each store to its leader: this node's own Raft state for the
// stores it holds, the heartbeats of live nodes for the others.
func (c *Cluster) leaders(peers map[uint64]peer, now time.Time) map[string]uint64 {
	leaderOf := map[string]uint64{}
	for id, p := range peers {
		if !c.peerUp(p, now) {
			continue
		}
		for _, s := range p.hb.Leads {
			leaderOf[s] = id
		}
	}
	for _, r := range c.cfg.Replicas.List() {
		if l, ok := c.cfg.Raft.Leader(r.ShardID); ok {
			leaderOf[r.ID] = l
		} else {
			delete(leaderOf, r.ID)
		}
	}
	return leaderOf
}

// storeView is one store in the view: its health comes from what its
// replicas report about themselves, not from their nodes being up.
func (c *Cluster) storeView(s *meta.Store, peers map[uint64]peer, leader uint64, now time.Time) wire.ClusterStore {
	cs := wire.ClusterStore{Store: s.ID, Shard: s.ShardID, Status: s.Status, Replicas: s.Replicas, Leader: leader,
		ReplicaStates: c.replicaStates(s, peers, now)}
	for _, m := range s.Moves {
		cs.Moves = append(cs.Moves, wire.ReplicaMove{From: m.From, To: m.To})
	}
	dormant := 0
	for _, rs := range cs.ReplicaStates {
		switch rs.State {
		case wire.ReplicaRunning:
			cs.ReplicasUp++
		case wire.ReplicaDormant:
			cs.ReplicasUp++
			dormant++
		}
	}
	// The leader may be a replica moving away, no longer in Replicas.
	switch {
	case (leader == 0 || c.replicaState(s.ID, leader, peers, now).State != wire.ReplicaRunning) && dormant > len(s.Replicas)/2:
		// Idle: a request starts its replicas and elects a leader.
		cs.Health, cs.Leader = wire.StoreDormant, 0
	case leader == 0 || c.replicaState(s.ID, leader, peers, now).State != wire.ReplicaRunning:
		cs.Health, cs.Leader = wire.StoreUnavailable, 0
	case cs.ReplicasUp < len(s.Replicas):
		cs.Health = wire.StoreUnderReplicated
	default:
		cs.Health = wire.StoreHealthy
	}
	return cs
}

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
// heartbeats it has received. See docs/operations.md for how to read them.

// View returns the cluster view as this node sees it.
func (c *Cluster) View(ctx context.Context) (*wire.ClusterView, error) {
	now := time.Now()
	v := &wire.ClusterView{Cluster: c.cfg.ClusterName, AnsweredBy: c.cfg.NodeID, Time: now.UnixNano(),
		Nodes: []wire.ClusterNode{}, Stores: []wire.ClusterStore{}, Drift: []wire.Drift{}}
	peers := c.peerTable()
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
	if l, ok := c.cfg.Registry.Leader(); ok {
		v.MetaLeader = l
	}
	roles := map[uint64]string{}
	mctx, cancel := context.WithTimeout(ctx, time.Second)
	if mem, err := c.cfg.Raft.Membership(mctx, meta.ShardID); err == nil {
		for id := range mem.Voters {
			roles[id] = "voter"
		}
		for id := range mem.NonVoters {
			roles[id] = "non_voting"
		}
	}
	cancel()
	// Leaders: this node's own Raft state for the stores it holds, the
	// heartbeats for the others.
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
	placed := map[uint64]int{}
	led := map[uint64]int{}
	up := func(id uint64) bool { p, ok := peers[id]; return ok && c.peerUp(p, now) }
	for _, s := range stores {
		cs := wire.ClusterStore{Store: s.ID, Shard: s.ShardID, Status: s.Status, Replicas: s.Replicas, Leader: leaderOf[s.ID]}
		for _, m := range s.Moves {
			cs.Moves = append(cs.Moves, wire.ReplicaMove{From: m.From, To: m.To})
		}
		for _, r := range s.Replicas {
			placed[r]++
			if up(r) {
				cs.ReplicasUp++
			}
		}
		if cs.Leader != 0 {
			led[cs.Leader]++
		}
		switch {
		case cs.Leader == 0 || !up(cs.Leader):
			cs.Health, cs.Leader = wire.StoreUnavailable, 0
		case cs.ReplicasUp < len(s.Replicas):
			cs.Health = wire.StoreUnderReplicated
		default:
			cs.Health = wire.StoreHealthy
		}
		v.Stores = append(v.Stores, cs)
	}
	registered := map[uint64]string{}
	leaving := map[uint64]bool{}
	for _, nd := range nodes {
		registered[nd.ID] = nd.RaftAddress
		leaving[nd.ID] = nd.Leaving
	}
	for id, p := range peers {
		if _, ok := registered[id]; !ok && c.peerUp(p, now) {
			registered[id] = p.hb.RaftAddress // joining, not registered yet
		}
	}
	for _, id := range slices.Sorted(maps.Keys(registered)) {
		cn := wire.ClusterNode{ID: id, RaftAddress: registered[id], Health: wire.NodeDown, LastSeenMs: -1,
			MetaRole: roles[id], MetaLeader: id == v.MetaLeader, Leads: led[id], Replicas: placed[id], Leaving: leaving[id]}
		if p, ok := peers[id]; ok {
			cn.LastSeenMs = now.Sub(p.received).Milliseconds()
			cn.DataDir, cn.Version, cn.StartedAt = p.hb.DataDir, p.hb.Version, p.hb.Started
			if c.peerUp(p, now) {
				cn.Health = wire.NodeUp
			}
		}
		v.Nodes = append(v.Nodes, cn)
	}
	v.Drift = c.drift(peers, now)
	return v, nil
}

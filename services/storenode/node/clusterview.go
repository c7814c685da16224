package node

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// The cluster view (cluster.view) and health (cluster.health) are answered
// by any storenode from its registry replica, its own Raft state and the
// heartbeats it has received. See docs/operations.md for how to read them.

// Metaread operations behind cluster.<op>.
var (
	metaReadClusterView   = proto.ClusterReadOp(subjects.ClusterView)
	metaReadClusterHealth = proto.ClusterReadOp(subjects.ClusterHealth)
)

// foreignMemory is how long a storenode of another cluster stays reported.
const foreignMemory = 10 * time.Minute

func (n *Node) clusterView(ctx context.Context) (*wire.ClusterView, error) {
	now := time.Now()
	v := &wire.ClusterView{Cluster: n.cfg.ClusterName, AnsweredBy: n.cfg.NodeID, Time: now.UnixNano(),
		Nodes: []wire.ClusterNode{}, Stores: []wire.ClusterStore{}, Drift: []wire.Drift{}}
	peers := n.peerTable()
	stores, err := n.reg.Stores()
	if err != nil {
		return nil, raftError(err)
	}
	nodes, err := n.reg.Nodes()
	if err != nil {
		return nil, err
	}
	if uid, err := n.reg.UID(); err == nil {
		v.UID = uid
	}
	if l, ok := n.reg.Leader(); ok {
		v.MetaLeader = l
	}
	roles := map[uint64]string{}
	mctx, cancel := context.WithTimeout(ctx, time.Second)
	if mem, err := n.host.Membership(mctx, meta.ShardID); err == nil {
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
		if !n.peerUp(p, now) {
			continue
		}
		for _, s := range p.hb.Leads {
			leaderOf[s] = id
		}
	}
	local := map[string]uint64{}
	for _, r := range n.replicas.List() {
		local[r.Spec().ID] = r.Spec().ShardID
	}
	for id, shard := range local {
		if l, ok := n.host.Leader(shard); ok {
			leaderOf[id] = l
		} else {
			delete(leaderOf, id)
		}
	}
	placed := map[uint64]int{}
	led := map[uint64]int{}
	up := func(id uint64) bool { p, ok := peers[id]; return ok && n.peerUp(p, now) }
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
		if _, ok := registered[id]; !ok && n.peerUp(p, now) {
			registered[id] = p.hb.RaftAddress // joining, not registered yet
		}
	}
	for _, id := range slices.Sorted(maps.Keys(registered)) {
		cn := wire.ClusterNode{ID: id, RaftAddress: registered[id], Health: wire.NodeDown, LastSeenMs: -1,
			MetaRole: roles[id], MetaLeader: id == v.MetaLeader, Leads: led[id], Replicas: placed[id], Leaving: leaving[id]}
		if p, ok := peers[id]; ok {
			cn.LastSeenMs = now.Sub(p.received).Milliseconds()
			cn.DataDir, cn.Version, cn.StartedAt = p.hb.DataDir, p.hb.Version, p.hb.Started
			if n.peerUp(p, now) {
				cn.Health = wire.NodeUp
			}
		}
		v.Nodes = append(v.Nodes, cn)
	}
	v.Drift = n.drift(peers, now)
	return v, nil
}

// drift compares the settings the live nodes report. Different data
// directories are expected and never drift.
func (n *Node) drift(peers map[uint64]peer, now time.Time) []wire.Drift {
	out := []wire.Drift{}
	var ids []uint64
	for id, p := range peers {
		if n.peerUp(p, now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	compare := func(kind, subject, what string, value func(s nodeSettings) string) {
		var vals []wire.DriftValue
		distinct := map[string]bool{}
		for _, id := range ids {
			val := value(peers[id].hb.Settings)
			vals = append(vals, wire.DriftValue{Node: id, Value: val})
			distinct[val] = true
		}
		if len(distinct) > 1 {
			out = append(out, wire.Drift{Kind: kind, Subject: subject, Detail: what + " differs between storenodes", Values: vals})
		}
	}
	compare("default_store", "", "the default store (-store)", func(s nodeSettings) string { return s.DefaultStore })
	compare("request_timeout", "", "the request timeout", func(s nodeSettings) string { return fmt.Sprintf("%dms", s.RequestTimeoutMs) })
	compare("limits", "", "the request limits", func(s nodeSettings) string {
		l := s.Limits
		return fmt.Sprintf("max_event_size=%d max_append_events=%d max_request_size=%d max_read_count=%d max_reply_size=%d",
			l.MaxEventSize, l.MaxAppendEvents, l.MaxRequestSize, l.MaxReadCount, l.MaxReplySize)
	})
	compare("max_stores", "", "the store limit (-max-stores)", func(s nodeSettings) string { return fmt.Sprint(s.MaxStores) })
	compare("initial_size", "", "the initial cluster size", func(s nodeSettings) string { return fmt.Sprint(s.InitialSize) })
	// Static stores: every live node should declare the same set, alike.
	declared := map[string]bool{}
	for _, id := range ids {
		for _, st := range peers[id].hb.Settings.StaticStores {
			declared[st.ID] = true
		}
	}
	for _, store := range slices.Sorted(maps.Keys(declared)) {
		compare("static_store", store, "the configured store "+store, func(s nodeSettings) string {
			for _, st := range s.StaticStores {
				if st.ID == store {
					return "declared " + describeSettings(st.Settings)
				}
			}
			return "not declared"
		})
	}
	n.mu.Lock()
	var foreign []foreignNode
	for k, f := range n.foreign {
		if now.Sub(f.Seen) > foreignMemory {
			delete(n.foreign, k)
			continue
		}
		foreign = append(foreign, f)
	}
	n.mu.Unlock()
	sort.Slice(foreign, func(i, j int) bool { return foreign[i].NodeID < foreign[j].NodeID })
	for _, f := range foreign {
		out = append(out, wire.Drift{Kind: "cluster_name", Subject: f.Cluster,
			Detail: fmt.Sprintf("storenode %d at %s (cluster %q) was refused %s ago: one NATS carries one cluster", f.NodeID, f.RaftAddress, f.Cluster, now.Sub(f.Seen).Round(time.Second)),
			Values: []wire.DriftValue{{Node: n.cfg.NodeID, Value: n.cfg.ClusterName}, {Node: f.NodeID, Value: f.Cluster}}})
	}
	return out
}

func describeSettings(s wire.StoreSettings) string {
	var parts []string
	add := func(name string, v *int64) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s=%d", name, *v))
		}
	}
	add("replication_factor", s.ReplicationFactor)
	add("request_timeout_ms", s.RequestTimeoutMs)
	add("max_event_size", s.MaxEventSize)
	add("max_append_events", s.MaxAppendEvents)
	add("max_read_count", s.MaxReadCount)
	if len(parts) == 0 {
		return "with defaults"
	}
	return "with " + strings.Join(parts, " ")
}

// clusterHealth sums the view up.
func (n *Node) clusterHealth(ctx context.Context) (*wire.ClusterHealth, error) {
	v, err := n.clusterView(ctx)
	if err != nil {
		return nil, err
	}
	h := &wire.ClusterHealth{Status: wire.HealthOK, Problems: []string{}, AnsweredBy: v.AnsweredBy, Time: v.Time}
	raise := func(level, format string, args ...any) {
		h.Problems = append(h.Problems, fmt.Sprintf(format, args...))
		if level == wire.HealthCritical || h.Status == wire.HealthOK {
			h.Status = level
		}
	}
	if v.MetaLeader == 0 {
		raise(wire.HealthCritical, "the registry (meta shard) has no leader: stores cannot be created or removed")
	}
	for _, nd := range v.Nodes {
		if nd.Health != wire.NodeUp {
			raise(wire.HealthWarning, "storenode %d (%s) is down: no heartbeat for %s", nd.ID, nd.RaftAddress, lastSeen(nd.LastSeenMs))
		}
	}
	for _, s := range v.Stores {
		switch s.Health {
		case wire.StoreUnavailable:
			if s.Status != meta.StatusRemoving {
				raise(wire.HealthCritical, "store %s has no leader: its requests fail", s.Store)
			}
		case wire.StoreUnderReplicated:
			raise(wire.HealthWarning, "store %s has %d of %d replicas up", s.Store, s.ReplicasUp, len(s.Replicas))
		}
	}
	for _, d := range v.Drift {
		var vals []string
		for _, dv := range d.Values {
			vals = append(vals, fmt.Sprintf("node %d: %s", dv.Node, dv.Value))
		}
		raise(wire.HealthWarning, "configuration drift (%s): %s [%s]", d.Kind, d.Detail, strings.Join(vals, "; "))
	}
	return h, nil
}

func lastSeen(ms int64) string {
	if ms < 0 {
		return "ever (since this node started)"
	}
	return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
}

// isClusterRead reports whether a metaread op is a cluster read.
func isClusterRead(op string) bool {
	return op == metaReadClusterView || op == metaReadClusterHealth
}

// clusterRead serves cluster.view and cluster.health.
func (n *Node) clusterRead(ctx context.Context, op string, data []byte) (any, error) {
	if err := wire.DecodeClusterRequest(data, n.cfg.Limits); err != nil {
		return nil, err
	}
	if op == metaReadClusterHealth {
		return n.clusterHealth(ctx)
	}
	return n.clusterView(ctx)
}

// ClusterView returns the cluster view as this node sees it.
func (n *Node) ClusterView(ctx context.Context) (*wire.ClusterView, error) { return n.clusterView(ctx) }

// ClusterHealth returns the cluster's health as this node sees it.
func (n *Node) ClusterHealth(ctx context.Context) (*wire.ClusterHealth, error) {
	return n.clusterHealth(ctx)
}

// Fatal returns the error that keeps this node from serving, if any.
func (n *Node) Fatal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}

// Member reports whether this node runs its meta replica (it formed or
// joined the cluster).
func (n *Node) Member() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.metaStarted
}

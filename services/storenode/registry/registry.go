// Package registry is the storenode's door to the meta shard, the cluster's
// single source of truth for stores and nodes: typed reads from this node's
// own meta replica, and registry changes proposed through Raft, each
// announced as a lifecycle event. It is the one place that knows how the meta
// shard is queried and what its answers are.
package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// Raft is what the registry needs of the Raft host (raft.Host).
type Raft interface {
	Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error)
	StaleRead(shard uint64, q any) (any, error)
	Leader(shard uint64) (uint64, bool)
	Leads(shard uint64) bool
	Follows(shard uint64) bool
}

// Publisher sends lifecycle events (a *nats.Conn).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Registry reads and changes the meta shard.
type Registry struct {
	raft    Raft
	nc      Publisher
	timeout time.Duration
	// changed is called after a change was applied (the reconciler's poke).
	changed func()
}

// New returns a registry over host's meta replica. Proposals are bounded by
// timeout; lifecycle events go out on nc; changed (may be nil) runs after
// every change that took effect.
func New(host Raft, nc Publisher, timeout time.Duration, changed func()) *Registry {
	if changed == nil {
		changed = func() {}
	}
	return &Registry{raft: host, nc: nc, timeout: timeout, changed: changed}
}

// Reads come from this node's meta replica as applied so far: they may trail
// the leader by a moment, which everything driven by them tolerates (every
// step is idempotent, see node/DESIGN.md).

// Store returns the store with this id, or nil if the registry has none.
func (r *Registry) Store(id string) (*meta.Store, error) {
	return raft.As[*meta.Store](r.raft.StaleRead(meta.ShardID, meta.GetStore{ID: id}))
}

// Stores returns every store, in id order.
func (r *Registry) Stores() ([]*meta.Store, error) {
	return raft.As[[]*meta.Store](r.raft.StaleRead(meta.ShardID, meta.AllStores{}))
}

// NodeLoad returns how many store replicas the registry places on each node.
func (r *Registry) NodeLoad() (map[uint64]int, error) {
	return raft.As[map[uint64]int](r.raft.StaleRead(meta.ShardID, meta.NodeLoad{}))
}

// Nodes returns every registered storenode.
func (r *Registry) Nodes() ([]meta.Node, error) {
	return raft.As[[]meta.Node](r.raft.StaleRead(meta.ShardID, meta.AllNodes{}))
}

// Addresses maps every registered node id to its Raft address.
func (r *Registry) Addresses() (map[uint64]string, error) {
	nodes, err := r.Nodes()
	if err != nil {
		return nil, err
	}
	addrs := make(map[uint64]string, len(nodes))
	for _, n := range nodes {
		addrs[n.ID] = n.RaftAddress
	}
	return addrs, nil
}

// UID returns the cluster's UID ("" before it is set).
func (r *Registry) UID() (string, error) {
	return raft.As[string](r.raft.StaleRead(meta.ShardID, meta.ClusterUID{}))
}

// ClusterVersion returns the active cluster version, as this replica
// applied it.
func (r *Registry) ClusterVersion() (meta.ClusterVersion, error) {
	return raft.As[meta.ClusterVersion](r.raft.StaleRead(meta.ShardID, meta.GetVersion{}))
}

// VersionInfo returns the cluster version and whether it is held back.
func (r *Registry) VersionInfo() (meta.VersionInfo, error) {
	return raft.As[meta.VersionInfo](r.raft.StaleRead(meta.ShardID, meta.GetVersionInfo{}))
}

// Leader returns the meta shard's leader; ok is false while it has none.
func (r *Registry) Leader() (uint64, bool) { return r.raft.Leader(meta.ShardID) }

// Leads reports whether this node leads the meta shard.
func (r *Registry) Leads() bool { return r.raft.Leads(meta.ShardID) }

// Follows reports whether another node leads the meta shard, as this
// replica knows it.
func (r *Registry) Follows() bool { return r.raft.Follows(meta.ShardID) }

// Propose proposes one registry change and returns its result, whose
// failure (a rule the change broke) is r.Err(); the error is a Raft failure.
// A change that took effect is announced on stores.events.<store>.<kind>.
//
// A command that needs a meta command version above the active cluster
// version is refused before it is proposed (version_not_active): a
// registry replica on an older build would apply it differently. The
// version change itself is proposed only when every node supports it.
func (r *Registry) Propose(ctx context.Context, c meta.Command) (*meta.Result, error) {
	if need := c.Version(); need > 1 && c.Op != meta.OpSetVersion { // the raise itself: only when every node supports it
		v, err := r.ClusterVersion()
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		if need > v.Meta {
			return nil, codes.New(codes.VersionNotActive, "this registry change needs meta command version %d; the cluster is at %d until every storenode supports it and the upgrade is finalized", need, v.Meta)
		}
	}
	c.Time = time.Now().UnixNano()
	data, err := meta.Encode(&c)
	if err != nil {
		return nil, codes.New(codes.Internal, "registry: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	out, err := r.raft.Propose(pctx, meta.ShardID, data)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	res, err := meta.DecodeResult(out)
	if err != nil {
		return nil, codes.New(codes.Internal, "registry: %v", err)
	}
	if res.Changed && res.Store != nil {
		r.announce(res.Store, res.Previous, res.Purged)
		r.changed()
	}
	for _, d := range res.Degraded {
		r.announce(d.Store, d.Previous, false)
	}
	return res, nil
}

// Apply is Propose for callers that only care whether the change held:
// a broken rule is returned as its error.
func (r *Registry) Apply(ctx context.Context, c meta.Command) (*meta.Result, error) {
	res, err := r.Propose(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// announce publishes a change of store s (its status before: previous; or
// purged, gone from the registry) on stores.events.<store>.<kind>.
// Delivery is at most once (core NATS); the registry is the truth.
func (r *Registry) announce(s *meta.Store, previous string, purged bool) {
	kind := wire.EventStatusChanged
	switch {
	case purged:
		kind = wire.EventRemoved
	case previous == "" && s.Status == meta.StatusCreating:
		kind = wire.EventCreated
	}
	status := s.Status
	if purged {
		status = "removed"
	}
	b, err := wire.Marshal(wire.StoreEvent{Store: s.ID, Kind: kind, Status: status, Previous: previous, Timestamp: s.Updated})
	if err == nil {
		r.nc.Publish(subjects.StoreEvent(s.ID, kind), b)
	}
}

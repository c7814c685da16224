package meta

import (
	"slices"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

func fail(c codes.Code, format string, args ...any) Result {
	e := codes.New(c, format, args...)
	return Result{Code: int(e.Code), Message: e.Message}
}

// apply changes st by one command; deterministic.
func (st *State) apply(c *Command) Result {
	switch c.Op {
	case OpInit:
		if st.ClusterUID == "" {
			st.ClusterUID = c.UID
		}
		return Result{UID: st.ClusterUID}
	case OpRegisterNode:
		if n, ok := st.Nodes[c.NodeID]; ok && n.RaftAddress == c.RaftAddress {
			return Result{}
		}
		st.Nodes[c.NodeID] = &Node{ID: c.NodeID, RaftAddress: c.RaftAddress, Registered: c.Time}
		return Result{Changed: true}
	case OpCreate:
		return st.create(c)
	case OpSetStatus:
		s, ok := st.Stores[c.Store]
		if !ok {
			return fail(codes.StoreNotFound, "store %q does not exist", c.Store)
		}
		if s.Status == wire.StatusRemoving {
			return fail(codes.StoreRemoving, "store %q is being removed", c.Store)
		}
		if s.Status == c.Status {
			return Result{Store: s.clone()}
		}
		prev := s.Status
		s.Status, s.Updated = c.Status, c.Time
		return Result{Store: s.clone(), Changed: true, Previous: prev}
	case OpRemove:
		s, ok := st.Stores[c.Store]
		if !ok {
			return fail(codes.StoreNotFound, "store %q does not exist", c.Store)
		}
		if c.Store == c.Protected || s.Origin == "default" {
			return fail(codes.StoreProtected, "store %q is the default store and cannot be removed", c.Store)
		}
		if s.Status == wire.StatusRemoving {
			return Result{Store: s.clone()}
		}
		prev := s.Status
		s.Status, s.Updated, s.Removed = wire.StatusRemoving, c.Time, nil
		return Result{Store: s.clone(), Changed: true, Previous: prev}
	case OpReplicaRemoved:
		s, ok := st.Stores[c.Store]
		if !ok || s.Status != wire.StatusRemoving {
			return Result{}
		}
		if !slices.Contains(s.Removed, c.NodeID) && s.HasReplica(c.NodeID) {
			s.Removed = append(s.Removed, c.NodeID)
		}
		for _, n := range s.Replicas {
			if !slices.Contains(s.Removed, n) {
				return Result{Store: s.clone()}
			}
		}
		delete(st.Stores, c.Store)
		return Result{Store: s.clone(), Changed: true, Purged: true, Previous: wire.StatusRemoving}
	}
	return fail(codes.Internal, "unknown meta command %d", c.Op)
}

func (st *State) create(c *Command) Result {
	if s, ok := st.Stores[c.Store]; ok {
		switch {
		case s.Status == wire.StatusRemoving:
			return fail(codes.StoreRemoving, "store %q is being removed; create it again once removal finished", c.Store)
		case s.Settings == c.Settings:
			return Result{Store: s.clone(), Existed: true}
		}
		return Result{Code: int(codes.StoreAlreadyExists), Store: s.clone(),
			Message: "store \"" + c.Store + "\" already exists with other settings"}
	}
	if c.MaxStores > 0 && int64(len(st.Stores)) >= c.MaxStores {
		return fail(codes.StoreLimitReached, "the cluster holds %d stores, its maximum", len(st.Stores))
	}
	if len(st.Nodes) == 0 {
		return fail(codes.Unavailable, "no storenode has registered yet")
	}
	replicas := st.place(int(c.Settings.ReplicationFactor))
	if replicas == nil {
		return fail(codes.InvalidSettings, "replication_factor %d is more than the %d storenodes of the cluster", c.Settings.ReplicationFactor, len(st.Nodes))
	}
	s := &Store{
		ID: c.Store, ShardID: st.NextShardID, Settings: c.Settings, Status: wire.StatusCreating,
		Replicas: replicas, Origin: c.Origin, Created: c.Time, Updated: c.Time,
	}
	st.NextShardID++
	st.Stores[c.Store] = s
	return Result{Store: s.clone(), Changed: true}
}

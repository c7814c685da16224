package meta

import (
	"slices"

	"github.com/logbookdb/logbook/pkg/codes"
)

// fail is a command's failure as a Result: its code and message. With
// Result.Err, the way back, it is the one conversion between the two.
func fail(c codes.Code, format string, args ...any) Result {
	e := codes.New(c, format, args...)
	return Result{Code: int(e.Code), Message: e.Message}
}

// changes is the one store c may change, or AnyStore: the commands on one
// store name it; the others (on nodes, on the cluster) may change any.
func (c *Command) changes() string {
	switch c.Op {
	case OpCreate, OpSetStatus, OpRemove, OpReplicaRemoved, OpSetQuota, OpMoveDone:
		return c.Store
	}
	return AnyStore
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
		if s.Status == StatusRemoving {
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
		if s.Status == StatusRemoving {
			return Result{Store: s.clone()}
		}
		prev := s.Status
		s.Status, s.Updated, s.Removed = StatusRemoving, c.Time, nil
		return Result{Store: s.clone(), Changed: true, Previous: prev}
	case OpReplicaRemoved:
		s, ok := st.Stores[c.Store]
		if !ok || s.Status != StatusRemoving {
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
		return Result{Store: s.clone(), Changed: true, Purged: true, Previous: StatusRemoving}
	case OpRemoveNode:
		return st.removeNode(c)
	case OpSetVersion:
		return st.setVersion(c)
	case OpHoldVersion:
		return st.holdVersion(c)
	case OpSetQuota:
		return st.setQuota(c)
	case OpMoveDone:
		s, ok := st.Stores[c.Store]
		if !ok {
			return Result{}
		}
		i := slices.IndexFunc(s.Moves, func(m Move) bool { return m.From == c.NodeID })
		if i < 0 {
			return Result{Store: s.clone()}
		}
		s.Moves = slices.Delete(s.Moves, i, i+1)
		s.Updated = c.Time
		return Result{Store: s.clone()}
	case OpNodeRemoved:
		n, ok := st.Nodes[c.NodeID]
		if !ok || !n.Leaving {
			return Result{}
		}
		for _, s := range st.Stores {
			if s.MovingFrom(c.NodeID) || s.HasReplica(c.NodeID) {
				return fail(codes.Unavailable, "node %d still holds replicas", c.NodeID)
			}
		}
		delete(st.Nodes, c.NodeID)
		return Result{}
	}
	return fail(codes.Internal, "unknown meta command %d", c.Op)
}

// setQuota changes a store's quota; its other settings stay.
func (st *State) setQuota(c *Command) Result {
	s, ok := st.Stores[c.Store]
	if !ok {
		return fail(codes.StoreNotFound, "store %q does not exist", c.Store)
	}
	if s.Status == StatusRemoving {
		return fail(codes.StoreRemoving, "store %q is being removed", c.Store)
	}
	if s.Settings.MaxEvents == c.Settings.MaxEvents && s.Settings.MaxBytes == c.Settings.MaxBytes {
		return Result{Store: s.clone()}
	}
	s.Settings.MaxEvents, s.Settings.MaxBytes = c.Settings.MaxEvents, c.Settings.MaxBytes
	s.Updated = c.Time
	return Result{Store: s.clone()}
}

// removeNode marks a node leaving and moves each of its replicas to the
// least-loaded node that has none of that store (or nowhere, when every
// other node has one: the store is left with fewer replicas, degraded).
func (st *State) removeNode(c *Command) Result {
	n, ok := st.Nodes[c.NodeID]
	if !ok {
		return fail(codes.NodeNotFound, "node %d is not in the cluster", c.NodeID)
	}
	if n.Leaving {
		return Result{}
	}
	if len(st.Nodes) == 1 {
		return fail(codes.InvalidArgument, "node %d is the last node of the cluster", c.NodeID)
	}
	n.Leaving = true
	var res Result
	ids := make([]string, 0, len(st.Stores))
	for id := range st.Stores {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := st.Stores[id]
		if !s.HasReplica(c.NodeID) {
			continue
		}
		if s.Status == StatusRemoving {
			continue // its removal deletes the replica anyway
		}
		var to uint64
		if p := st.placeExcluding(1, s.Replicas); len(p) == 1 {
			to = p[0]
		}
		i := slices.Index(s.Replicas, c.NodeID)
		if to != 0 {
			s.Replicas[i] = to
			slices.Sort(s.Replicas)
		} else {
			s.Replicas = slices.Delete(s.Replicas, i, i+1)
			prev := s.Status
			s.Status = StatusDegraded
			if prev != StatusDegraded {
				res.Degraded = append(res.Degraded, StatusChange{Store: s, Previous: prev})
			}
		}
		s.Moves = append(s.Moves, Move{From: c.NodeID, To: to})
		s.Updated = c.Time
	}
	for i := range res.Degraded {
		res.Degraded[i].Store = res.Degraded[i].Store.clone()
	}
	return res
}

func (st *State) create(c *Command) Result {
	if s, ok := st.Stores[c.Store]; ok {
		switch {
		case s.Status == StatusRemoving:
			return fail(codes.StoreRemoving, "store %q is being removed; create it again once removal finished", c.Store)
		case c.Restore != (s.Status == StatusRestoring):
			// A restore goes into a new store only, and a store being
			// restored is not there yet for anyone else.
			if s.Status == StatusRestoring {
				r := fail(codes.StoreRestoring, "store %q is being restored", c.Store)
				r.Store = s.clone()
				return r
			}
			r := fail(codes.StoreAlreadyExists, "store %q already exists: a backup is restored into a new store only", c.Store)
			r.Store = s.clone()
			return r
		case s.Settings == c.Settings:
			return Result{Store: s.clone(), Existed: true}
		}
		r := fail(codes.StoreAlreadyExists, "store %q already exists with other settings", c.Store)
		r.Store = s.clone()
		return r
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
	status := StatusCreating
	if c.Restore {
		status = StatusRestoring
	}
	s := &Store{
		ID: c.Store, ShardID: st.NextShardID, Settings: c.Settings, Status: status,
		Replicas: replicas, Origin: c.Origin, Created: c.Time, Updated: c.Time,
	}
	st.NextShardID++
	st.Stores[c.Store] = s
	return Result{Store: s.clone(), Changed: true}
}

// Package meta is the meta shard: the cluster's single source of truth for
// its stores (id, settings, placement, status) and its storenodes. It is one
// dragonboat Raft group (shard 1) with a small in-memory state machine that
// dragonboat snapshots to disk. See DESIGN.md.
package meta

import (
	"slices"
	"sort"
)

// ShardID is the meta shard's Raft shard id; store shards start at 2.
const ShardID uint64 = 1

// FirstStoreShard is the shard id of the first store created (the default
// store, created at bootstrap; a single-node Logbook of the first release
// used it for its only store).
const FirstStoreShard uint64 = 2

// Settings are a store's resolved settings.
type Settings struct {
	ReplicationFactor int64 `msgpack:"rf"`
	RequestTimeoutMs  int64 `msgpack:"timeout_ms"`
	MaxEventSize      int64 `msgpack:"max_event_size"`
	MaxAppendEvents   int64 `msgpack:"max_append_events"`
	MaxReadCount      int64 `msgpack:"max_read_count"`
	// MaxEvents and MaxBytes are the store's quota (0: none), enforced by
	// the store's state machine (sm.Quota): a create or a change with a
	// quota is meta command version 3.
	MaxEvents int64 `msgpack:"max_events,omitempty"`
	MaxBytes  int64 `msgpack:"max_bytes,omitempty"`
}

// HasQuota reports whether the settings set a quota.
func (s Settings) HasQuota() bool { return s.MaxEvents != 0 || s.MaxBytes != 0 }

// Store statuses (Store.Status, persisted in the registry). They are the
// values the client protocol reports (wire.Status*); see the status machine
// in DESIGN.md.
const (
	StatusCreating = "creating" // in the registry; replicas are being started
	StatusRunning  = "running"  // every replica it should have is running
	StatusDegraded = "degraded" // running with fewer replicas than its replication factor
	StatusRemoving = "removing" // being removed; no longer served
	// StatusRestoring: created for a restore (Command.Restore); the store's
	// leader reports it running once the restore completed in the store's
	// state machine, or removes it if the restore failed or stopped.
	StatusRestoring = "restoring"
)

// Store is one registry entry.
type Store struct {
	ID       string   `msgpack:"id"`
	ShardID  uint64   `msgpack:"shard"`
	Settings Settings `msgpack:"settings"`
	Status   string   `msgpack:"status"`
	Replicas []uint64 `msgpack:"replicas"` // node ids placed to hold a replica
	Removed  []uint64 `msgpack:"removed"`  // replicas already gone, while removing
	Origin   string   `msgpack:"origin"`   // default, config or api
	// Moves are replicas leaving a node that is being removed: From is
	// taken out of the store's Raft group, then To (0: no spare node) added.
	Moves   []Move `msgpack:"moves,omitempty"`
	Created int64  `msgpack:"created"`
	Updated int64  `msgpack:"updated"`
}

// Move is one replica moving off a leaving node.
type Move struct {
	From uint64 `msgpack:"from"`
	To   uint64 `msgpack:"to"`
}

func (s *Store) clone() *Store {
	c := *s
	c.Replicas = slices.Clone(s.Replicas)
	c.Removed = slices.Clone(s.Removed)
	c.Moves = slices.Clone(s.Moves)
	return &c
}

// MovingFrom reports whether node's replica is moving away.
func (s *Store) MovingFrom(node uint64) bool {
	return slices.ContainsFunc(s.Moves, func(m Move) bool { return m.From == node })
}

// MovingTo reports whether node receives a replica that moves in (it joins
// the store's Raft group rather than starting with it).
func (s *Store) MovingTo(node uint64) bool {
	return slices.ContainsFunc(s.Moves, func(m Move) bool { return m.To == node })
}

// HasReplica reports whether node holds (or should hold) a replica.
func (s *Store) HasReplica(node uint64) bool { return slices.Contains(s.Replicas, node) }

// Node is a registered storenode.
type Node struct {
	ID          uint64 `msgpack:"id"`
	RaftAddress string `msgpack:"raft_address"`
	Registered  int64  `msgpack:"registered"`
	Leaving     bool   `msgpack:"leaving,omitempty"` // being removed: gets no new replicas
}

// State is the whole registry.
type State struct {
	Stores      map[string]*Store `msgpack:"stores"`
	Nodes       map[uint64]*Node  `msgpack:"nodes"`
	NextShardID uint64            `msgpack:"next_shard"`
	// ClusterUID identifies this cluster's registry, set once by OpInit, so
	// that two Logbooks sharing a NATS server can tell each other apart.
	ClusterUID string `msgpack:"cluster_uid"`
	// Version is the active cluster version (zero: the base version).
	Version ClusterVersion `msgpack:"version,omitempty"`
	// VersionHeld: cluster.version holds the version back.
	VersionHeld bool `msgpack:"version_held,omitempty"`
}

func newState() *State {
	return &State{Stores: map[string]*Store{}, Nodes: map[uint64]*Node{}, NextShardID: FirstStoreShard}
}

// sortedStores returns copies of the stores in id order.
func (st *State) sortedStores() []*Store {
	out := make([]*Store, 0, len(st.Stores))
	for _, s := range st.Stores {
		out = append(out, s.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// place picks rf nodes for a new store, deterministically: the nodes holding
// the fewest replicas first, then by id.
func (st *State) place(rf int) []uint64 {
	return st.placeExcluding(rf, nil)
}

// placeExcluding is place without the given nodes and leaving ones.
func (st *State) placeExcluding(rf int, exclude []uint64) []uint64 {
	load := map[uint64]int{}
	for _, s := range st.Stores {
		for _, n := range s.Replicas {
			load[n]++
		}
	}
	ids := make([]uint64, 0, len(st.Nodes))
	for id, n := range st.Nodes {
		if !n.Leaving && !slices.Contains(exclude, id) {
			ids = append(ids, id)
		}
	}
	return LeastLoaded(ids, load, rf)
}

// LeastLoaded is the placement rule: of the candidate node ids, the rf
// holding the fewest replicas (load), ties to the lowest id, returned in
// id order; nil if there are fewer than rf. ids is reordered.
func LeastLoaded(ids []uint64, load map[uint64]int, rf int) []uint64 {
	sort.Slice(ids, func(i, j int) bool {
		if load[ids[i]] != load[ids[j]] {
			return load[ids[i]] < load[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if rf > len(ids) {
		return nil
	}
	out := slices.Clone(ids[:rf])
	slices.Sort(out)
	return out
}

package meta

import (
	"fmt"
	"io"
	"sync"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/vmihailenco/msgpack/v5"
)

// StateMachine is the meta shard's state machine. The registry is small (a
// few hundred bytes a store), so it lives in memory; dragonboat persists it
// through its log and periodic snapshots.
type StateMachine struct {
	mu sync.RWMutex
	st *State
	// onApply, if set, runs after each entry is applied (and after a
	// snapshot is recovered), on dragonboat's goroutine: it must not block.
	onApply func(store string)
}

// New returns an empty meta state machine.
func New() *StateMachine { return &StateMachine{st: newState()} }

// OnApply sets f to run after each entry this replica applies and after a
// snapshot is recovered, on dragonboat's goroutine: f must not block. It is
// how the node learns at once that the registry moved on (a store created
// or running), without polling. store is the one store the entry's command
// named, the only one it may have changed; AnyStore when it may have
// changed any (a command on nodes or the cluster, a snapshot recovered).
// Set it before the replica starts.
func (m *StateMachine) OnApply(f func(store string)) { m.onApply = f }

// AnyStore is what OnApply's function gets when any store may have changed.
const AnyStore = ""

func (m *StateMachine) applied(store string) {
	if m.onApply != nil {
		m.onApply(store)
	}
}

var _ dbsm.IStateMachine = (*StateMachine)(nil)

// Update applies one entry.
//
// An entry a newer build wrote (a newer entry version, an op this build
// does not know) halts the replica with an error — dragonboat stops the
// process — rather than be answered with an error here while newer
// replicas apply it: the registries would differ. The cluster version gate
// keeps that from happening (version.go).
func (m *StateMachine) Update(e dbsm.Entry) (dbsm.Result, error) {
	if len(e.Cmd) > 0 && e.Cmd[0] > EntryVersion {
		return dbsm.Result{}, fmt.Errorf("meta: entry %d has version %d, newer than this build's %d: %w", e.Index, e.Cmd[0], EntryVersion, ErrNewerEntry)
	}
	c, err := decodeCommand(e.Cmd)
	if err == nil && c.Op > lastOp {
		return dbsm.Result{}, fmt.Errorf("meta: entry %d has op %d, unknown to this build (meta command version %d): %w", e.Index, c.Op, MaxCommandVersion, ErrNewerEntry)
	}
	var r Result
	if err != nil {
		r = fail(codes.Internal, "%v", err)
	} else {
		m.mu.Lock()
		r = m.st.apply(c)
		m.mu.Unlock()
		defer m.applied(c.changes())
	}
	b, err := msgpack.Marshal(&r)
	if err != nil {
		return dbsm.Result{}, fmt.Errorf("meta: encode result: %w", err)
	}
	return dbsm.Result{Value: uint64(r.Code), Data: b}, nil
}

// Queries accepted by Lookup.
type (
	// GetStore returns the *Store with this id, or nil.
	GetStore struct{ ID string }
	// AllStores returns every store, in id order.
	AllStores struct{}
	// AllNodes returns every registered node.
	AllNodes struct{}
	// ClusterUID returns the cluster's UID (a string, "" before OpInit).
	ClusterUID struct{}
	// NodeLoad returns how many store replicas the registry places on each
	// node (a map[uint64]int), without copying the stores.
	NodeLoad struct{}
)

// Lookup answers a query with copies, never with shared state.
func (m *StateMachine) Lookup(q any) (any, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch q := q.(type) {
	case GetStore:
		if s, ok := m.st.Stores[q.ID]; ok {
			return s.clone(), nil
		}
		return (*Store)(nil), nil
	case AllStores:
		return m.st.sortedStores(), nil
	case ClusterUID:
		return m.st.ClusterUID, nil
	case NodeLoad:
		load := make(map[uint64]int, len(m.st.Nodes))
		for _, s := range m.st.Stores {
			for _, n := range s.Replicas {
				load[n]++
			}
		}
		return load, nil
	case GetVersion:
		return m.st.Version.Active(), nil
	case GetVersionInfo:
		return VersionInfo{Version: m.st.Version.Active(), Held: m.st.VersionHeld}, nil
	case AllNodes:
		out := make([]Node, 0, len(m.st.Nodes))
		for _, n := range m.st.Nodes {
			out = append(out, *n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("meta: unknown query %T", q)
}

// SaveSnapshot writes the registry: version byte + msgpack(State).
func (m *StateMachine) SaveSnapshot(w io.Writer, _ dbsm.ISnapshotFileCollection, _ <-chan struct{}) error {
	m.mu.RLock()
	b, err := msgpack.Marshal(m.st)
	m.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("meta: snapshot: %w", err)
	}
	if _, err := w.Write(append([]byte{EntryVersion}, b...)); err != nil {
		return fmt.Errorf("meta: snapshot: %w", err)
	}
	return nil
}

// RecoverFromSnapshot replaces the registry with a snapshot's.
func (m *StateMachine) RecoverFromSnapshot(r io.Reader, _ []dbsm.SnapshotFile, _ <-chan struct{}) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("meta: recover: %w", err)
	}
	if len(b) == 0 || b[0] != EntryVersion {
		return fmt.Errorf("meta: recover: snapshot version not supported")
	}
	st := newState()
	if err := msgpack.Unmarshal(b[1:], st); err != nil {
		return fmt.Errorf("meta: recover: %w", err)
	}
	if st.Stores == nil {
		st.Stores = map[string]*Store{}
	}
	if st.Nodes == nil {
		st.Nodes = map[uint64]*Node{}
	}
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
	m.applied(AnyStore)
	return nil
}

// Close does nothing: the state lives in memory.
func (m *StateMachine) Close() error { return nil }

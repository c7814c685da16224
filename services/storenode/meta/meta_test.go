package meta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
)

func propose(t *testing.T, m *StateMachine, idx uint64, c Command) *Result {
	t.Helper()
	b, err := Encode(&c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Update(dbsm.Entry{Index: idx, Cmd: b})
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeResult(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var one = Settings{ReplicationFactor: 1, RequestTimeoutMs: 5000, MaxEventSize: 100, MaxAppendEvents: 10, MaxReadCount: 10}

func TestRegistryRules(t *testing.T) {
	m := New()
	if r := propose(t, m, 1, Command{Op: OpCreate, Store: "a", Settings: one}); r.Code != int(codes.Unavailable) {
		t.Fatalf("create before any node registered: %+v", r)
	}
	propose(t, m, 2, Command{Op: OpRegisterNode, NodeID: 1, RaftAddress: "x:1"})
	r := propose(t, m, 3, Command{Op: OpCreate, Store: "default", Settings: one, Origin: "default", MaxStores: 3, Time: 10})
	if r.Code != 0 || r.Store.ShardID != FirstStoreShard || r.Store.Status != StatusCreating || !r.Changed {
		t.Fatalf("create default: %+v", r)
	}
	r = propose(t, m, 4, Command{Op: OpCreate, Store: "a", Settings: one, MaxStores: 3})
	if r.Store.ShardID != FirstStoreShard+1 {
		t.Fatalf("second shard id %d", r.Store.ShardID)
	}
	if r = propose(t, m, 5, Command{Op: OpCreate, Store: "a", Settings: one, MaxStores: 3}); r.Code != 0 || !r.Existed || r.Changed {
		t.Fatalf("same settings again: %+v", r)
	}
	other := one
	other.MaxEventSize = 50
	if r = propose(t, m, 6, Command{Op: OpCreate, Store: "a", Settings: other, MaxStores: 3}); r.Code != int(codes.StoreAlreadyExists) || r.Store.Settings != one {
		t.Fatalf("other settings: %+v", r)
	}
	two := one
	two.ReplicationFactor = 2
	if r = propose(t, m, 7, Command{Op: OpCreate, Store: "b", Settings: two, MaxStores: 3}); r.Code != int(codes.InvalidSettings) {
		t.Fatalf("rf 2 on one node: %+v", r)
	}
	propose(t, m, 8, Command{Op: OpCreate, Store: "b", Settings: one, MaxStores: 3})
	if r = propose(t, m, 9, Command{Op: OpCreate, Store: "c", Settings: one, MaxStores: 3}); r.Code != int(codes.StoreLimitReached) {
		t.Fatalf("over the limit: %+v", r)
	}
	// The default store is protected by its origin, whatever the proposer says.
	if r = propose(t, m, 10, Command{Op: OpRemove, Store: "default", Protected: "other"}); r.Code != int(codes.StoreProtected) {
		t.Fatalf("remove default: %+v", r)
	}
	if r = propose(t, m, 11, Command{Op: OpRemove, Store: "a"}); r.Code != 0 || r.Store.Status != StatusRemoving || r.Previous != StatusCreating {
		t.Fatalf("remove: %+v", r)
	}
	if r = propose(t, m, 12, Command{Op: OpCreate, Store: "a", Settings: one}); r.Code != int(codes.StoreRemoving) {
		t.Fatalf("create while removing: %+v", r)
	}
	if r = propose(t, m, 13, Command{Op: OpSetStatus, Store: "a", Status: StatusRunning}); r.Code != int(codes.StoreRemoving) {
		t.Fatalf("status of a removing store: %+v", r)
	}
	if r = propose(t, m, 14, Command{Op: OpReplicaRemoved, Store: "a", NodeID: 1}); !r.Purged {
		t.Fatalf("last replica removed: %+v", r)
	}
	if v, _ := m.Lookup(GetStore{ID: "a"}); v.(*Store) != nil {
		t.Fatal("purged store still listed")
	}
	// Re-created after removal: a new shard, never a reused one.
	if r = propose(t, m, 15, Command{Op: OpCreate, Store: "a", Settings: one, MaxStores: 3}); r.Code != 0 || r.Store.ShardID != FirstStoreShard+3 {
		t.Fatalf("re-create: %+v", r)
	}
	// The cluster UID is set once.
	first := propose(t, m, 16, Command{Op: OpInit, UID: "u1"}).UID
	if second := propose(t, m, 17, Command{Op: OpInit, UID: "u2"}).UID; first != "u1" || second != "u1" {
		t.Fatalf("cluster uid %q then %q", first, second)
	}
}

func TestPlacementSpreadsReplicas(t *testing.T) {
	m := New()
	for id := uint64(1); id <= 3; id++ {
		propose(t, m, id, Command{Op: OpRegisterNode, NodeID: id})
	}
	load := map[uint64]int{}
	for i, id := range []string{"a", "b", "c"} {
		r := propose(t, m, uint64(10+i), Command{Op: OpCreate, Store: id, Settings: one})
		for _, n := range r.Store.Replicas {
			load[n]++
		}
	}
	if load[1] != 1 || load[2] != 1 || load[3] != 1 {
		t.Fatalf("placement not spread: %v", load)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := New()
	propose(t, m, 1, Command{Op: OpRegisterNode, NodeID: 1})
	propose(t, m, 2, Command{Op: OpInit, UID: "u"})
	propose(t, m, 3, Command{Op: OpCreate, Store: "a", Settings: one})
	var buf bytes.Buffer
	if err := m.SaveSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	m2 := New()
	if err := m2.RecoverFromSnapshot(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := m.Lookup(AllStores{})
	b, _ := m2.Lookup(AllStores{})
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("recovered %+v", b)
	}
	// The next shard id survives too.
	if r := propose(t, m2, 4, Command{Op: OpCreate, Store: "b", Settings: one}); r.Store.ShardID != FirstStoreShard+1 {
		t.Fatalf("shard after recovery %d", r.Store.ShardID)
	}
	if err := m2.RecoverFromSnapshot(bytes.NewReader([]byte("junk")), nil, nil); err == nil {
		t.Fatal("recovered from junk")
	}
}

// Removing a node moves each of its replicas to a node that has none of
// that store, or leaves the store degraded when there is none; the node
// leaves the registry only once nothing is placed on it.
func TestRemoveNodeMovesReplicas(t *testing.T) {
	m := New()
	for id := uint64(1); id <= 4; id++ {
		propose(t, m, id, Command{Op: OpRegisterNode, NodeID: id})
	}
	three := one
	three.ReplicationFactor = 3
	r := propose(t, m, 10, Command{Op: OpCreate, Store: "a", Settings: three})
	if !reflect.DeepEqual(r.Store.Replicas, []uint64{1, 2, 3}) {
		t.Fatalf("placed on %v", r.Store.Replicas)
	}
	if r := propose(t, m, 11, Command{Op: OpRemoveNode, NodeID: 9}); codes.Code(r.Code) != codes.NodeNotFound {
		t.Fatalf("unknown node: %+v", r)
	}
	propose(t, m, 12, Command{Op: OpRemoveNode, NodeID: 2})
	s, _ := m.Lookup(GetStore{ID: "a"})
	st := s.(*Store)
	if !reflect.DeepEqual(st.Replicas, []uint64{1, 3, 4}) || !reflect.DeepEqual(st.Moves, []Move{{From: 2, To: 4}}) {
		t.Fatalf("after remove: %+v", st)
	}
	// A leaving node gets no new replicas.
	r = propose(t, m, 13, Command{Op: OpCreate, Store: "b", Settings: three})
	if !reflect.DeepEqual(r.Store.Replicas, []uint64{1, 3, 4}) {
		t.Fatalf("b placed on %v", r.Store.Replicas)
	}
	if r := propose(t, m, 14, Command{Op: OpNodeRemoved, NodeID: 2}); codes.Code(r.Code) != codes.Unavailable {
		t.Fatalf("removed while a move is pending: %+v", r)
	}
	propose(t, m, 15, Command{Op: OpMoveDone, Store: "a", NodeID: 2})
	propose(t, m, 16, Command{Op: OpNodeRemoved, NodeID: 2})
	nodes, _ := m.Lookup(AllNodes{})
	if len(nodes.([]Node)) != 3 {
		t.Fatalf("nodes %+v", nodes)
	}
	// With no spare node, the replica is dropped and the store degraded.
	propose(t, m, 17, Command{Op: OpRemoveNode, NodeID: 4})
	s, _ = m.Lookup(GetStore{ID: "a"})
	st = s.(*Store)
	if !reflect.DeepEqual(st.Replicas, []uint64{1, 3}) || st.Status != StatusDegraded || !reflect.DeepEqual(st.Moves, []Move{{From: 4, To: 0}}) {
		t.Fatalf("after second remove: %+v", st)
	}
}

// A rejected command's result comes back from the proposal as the same
// error, code and message; a successful one as no error. An entry that
// cannot be decoded is an internal result, not a failed apply.
func TestResultErr(t *testing.T) {
	m := New()
	propose(t, m, 1, Command{Op: OpRegisterNode, NodeID: 1})
	if r := propose(t, m, 2, Command{Op: OpCreate, Store: "a", Settings: one}); r.Err() != nil {
		t.Fatalf("create: %v", r.Err())
	}
	other := one
	other.MaxEventSize++
	r := propose(t, m, 3, Command{Op: OpCreate, Store: "a", Settings: other})
	want := &codes.Error{Code: codes.StoreAlreadyExists, Message: `store "a" already exists with other settings`}
	if err := r.Err(); !reflect.DeepEqual(err, want) || r.Store == nil || r.Store.Settings != one {
		t.Fatalf("conflicting create: %#v, %+v", err, r)
	}
	if err := propose(t, m, 4, Command{Op: OpRemove, Store: "nope"}).Err(); codes.As(err).Code != codes.StoreNotFound ||
		codes.As(err).Message != `store "nope" does not exist` {
		t.Fatalf("remove of an unknown store: %v", err)
	}
	res, err := m.Update(dbsm.Entry{Index: 5, Cmd: []byte{EntryVersion, 0xc1}})
	if err != nil {
		t.Fatal(err)
	}
	r, err = DecodeResult(res.Data)
	if err != nil || codes.As(r.Err()).Code != codes.Internal || res.Value != uint64(codes.Internal) {
		t.Fatalf("undecodable entry: %+v, %v", r, err)
	}
	// What a newer build wrote halts the replica instead.
	if _, err := m.Update(dbsm.Entry{Index: 6, Cmd: []byte{EntryVersion + 1}}); !errors.Is(err, ErrNewerEntry) {
		t.Fatalf("newer entry version: %v", err)
	}
	data, err := Encode(&Command{Op: lastOp + 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(dbsm.Entry{Index: 7, Cmd: data}); !errors.Is(err, ErrNewerEntry) {
		t.Fatalf("unknown op: %v", err)
	}
}

// The cluster version moves up only, part by part; an absent one is the
// base version.
func TestClusterVersionNeverMovesDown(t *testing.T) {
	m := New()
	if v, _ := m.Lookup(GetVersion{}); v != BaseVersion {
		t.Fatalf("a fresh registry is at %+v", v)
	}
	if r := propose(t, m, 1, Command{Op: OpSetVersion, StoreVersion: 2, MetaVersion: 2}); r.Err() != nil || !r.Changed {
		t.Fatalf("raise: %+v", r)
	}
	if r := propose(t, m, 2, Command{Op: OpSetVersion, StoreVersion: 2, MetaVersion: 2}); r.Err() != nil || r.Changed {
		t.Fatalf("the same again: %+v", r)
	}
	if r := propose(t, m, 3, Command{Op: OpSetVersion, StoreVersion: 1, MetaVersion: 3}); codes.As(r.Err()).Code != codes.InvalidArgument {
		t.Fatalf("a lower store part: %+v", r)
	}
	if v, _ := m.Lookup(GetVersion{}); v != (ClusterVersion{Store: 2, Meta: 2}) {
		t.Fatalf("version %+v", v)
	}
	if (&Command{Op: OpCreate, Restore: true}).Version() != 2 || (&Command{Op: OpCreate}).Version() != 1 {
		t.Fatal("command versions")
	}
}

// A restore creates a new store in status restoring: a retry is existed,
// a plain create of it is store_restoring, a restore into an existing
// store is store_already_exists; SetStatus makes it running.
func TestCreateForRestore(t *testing.T) {
	m := New()
	propose(t, m, 1, Command{Op: OpRegisterNode, NodeID: 1, RaftAddress: "x:1"})
	r := propose(t, m, 2, Command{Op: OpCreate, Store: "r", Settings: one, Restore: true})
	if r.Code != 0 || r.Store.Status != StatusRestoring || !r.Changed {
		t.Fatalf("create for restore: %+v", r)
	}
	if r = propose(t, m, 3, Command{Op: OpCreate, Store: "r", Settings: one, Restore: true}); r.Code != 0 || !r.Existed {
		t.Fatalf("retried: %+v", r)
	}
	if r = propose(t, m, 4, Command{Op: OpCreate, Store: "r", Settings: one}); r.Code != int(codes.StoreRestoring) {
		t.Fatalf("plain create of a store being restored: %+v", r)
	}
	propose(t, m, 5, Command{Op: OpCreate, Store: "p", Settings: one})
	if r = propose(t, m, 6, Command{Op: OpCreate, Store: "p", Settings: one, Restore: true}); r.Code != int(codes.StoreAlreadyExists) {
		t.Fatalf("restore into an existing store: %+v", r)
	}
	if r = propose(t, m, 7, Command{Op: OpSetStatus, Store: "r", Status: StatusRunning}); r.Code != 0 || r.Store.Status != StatusRunning || r.Previous != StatusRestoring {
		t.Fatalf("restored: %+v", r)
	}
}

// A quota is a setting of its own: a create with one and OpSetQuota are
// command version 3; OpSetQuota changes the quota only, keeps the other
// settings, and refuses a missing or removing store.
func TestSetQuota(t *testing.T) {
	withQuota := one
	withQuota.MaxEvents = 10
	if (&Command{Op: OpCreate, Settings: withQuota}).Version() != 3 || (&Command{Op: OpSetQuota}).Version() != 3 ||
		(&Command{Op: OpCreate, Settings: one}).Version() != 1 {
		t.Fatal("command versions")
	}
	m := New()
	propose(t, m, 1, Command{Op: OpRegisterNode, NodeID: 1, RaftAddress: "x:1"})
	propose(t, m, 2, Command{Op: OpCreate, Store: "q", Settings: withQuota})
	r := propose(t, m, 3, Command{Op: OpSetQuota, Time: 33, Store: "q", Settings: Settings{MaxEvents: 5, MaxBytes: 1000}})
	want := one
	want.MaxEvents, want.MaxBytes = 5, 1000
	if r.Err() != nil || r.Store.Settings != want || r.Store.Updated != 33 {
		t.Fatalf("set quota: %+v", r)
	}
	if r := propose(t, m, 4, Command{Op: OpCreate, Store: "q", Settings: want}); !r.Existed {
		t.Fatalf("create with the new settings: %+v", r)
	}
	if r := propose(t, m, 5, Command{Op: OpSetQuota, Store: "nope"}); codes.As(r.Err()).Code != codes.StoreNotFound {
		t.Fatalf("missing store: %+v", r)
	}
	propose(t, m, 6, Command{Op: OpRemove, Store: "q"})
	if r := propose(t, m, 7, Command{Op: OpSetQuota, Store: "q"}); codes.As(r.Err()).Code != codes.StoreRemoving {
		t.Fatalf("removing store: %+v", r)
	}
}

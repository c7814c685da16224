package registry

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

type published struct {
	mu   sync.Mutex
	subj []string
	evs  []wire.StoreEvent
}

func (p *published) Publish(subject string, data []byte) error {
	var ev wire.StoreEvent
	if err := wire.UnmarshalReply(data, &ev); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subj = append(p.subj, subject)
	p.evs = append(p.evs, ev)
	return nil
}

// openRegistry runs a one-node meta shard on real disk.
func openRegistry(t *testing.T) (*Registry, *published, *int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h, err := raft.Open(raft.Config{NodeID: 1, Dir: t.TempDir(), RaftAddress: addr, RTT: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	rc := raft.ReplicaConfig{ShardID: meta.ShardID, ElectionTicks: 10, SnapshotEntries: 1000, CompactionOverhead: 100}
	if err := h.StartInMemory(rc, map[uint64]string{1: addr}, false, func() dbsm.IStateMachine { return meta.New() }); err != nil {
		t.Fatal(err)
	}
	pub := &published{}
	changes := new(int)
	r := New(h, pub, 5*time.Second, func() { *changes++ })
	deadline := time.Now().Add(10 * time.Second)
	for !r.Leads() {
		if time.Now().After(deadline) {
			t.Fatal("the meta shard has no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, pub, changes
}

func TestRegistryReadsWhatItProposesAndAnnouncesChanges(t *testing.T) {
	r, pub, changes := openRegistry(t)
	ctx := context.Background()
	if s, err := r.Store("orders"); err != nil || s != nil {
		t.Fatalf("unknown store: %v %v", s, err)
	}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpInit, UID: "u-1"}); err != nil {
		t.Fatal(err)
	}
	if uid, err := r.UID(); err != nil || uid != "u-1" {
		t.Fatalf("uid %q %v", uid, err)
	}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpRegisterNode, NodeID: 1, RaftAddress: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	addrs, err := r.Addresses()
	if err != nil || addrs[1] != "127.0.0.1:1" {
		t.Fatalf("addresses %v %v", addrs, err)
	}
	settings := meta.Settings{ReplicationFactor: 1, RequestTimeoutMs: 5000, MaxEventSize: 1 << 20, MaxAppendEvents: 100, MaxReadCount: 100}
	res, err := r.Apply(ctx, meta.Command{Op: meta.OpCreate, Store: "orders", Settings: settings, Origin: "api"})
	if err != nil || res.Store == nil || res.Store.Status != meta.StatusCreating {
		t.Fatalf("create: %+v %v", res, err)
	}
	s, err := r.Store("orders")
	if err != nil || s == nil || s.ID != "orders" {
		t.Fatalf("store: %+v %v", s, err)
	}
	stores, err := r.Stores()
	if err != nil || len(stores) != 1 {
		t.Fatalf("stores: %v %v", stores, err)
	}
	pub.mu.Lock()
	if len(pub.evs) != 1 || pub.evs[0].Kind != wire.EventCreated || pub.evs[0].Store != "orders" || pub.subj[0] != "stores.events.orders.created" {
		t.Fatalf("announced %v %+v", pub.subj, pub.evs)
	}
	pub.mu.Unlock()
	if *changes != 1 {
		t.Fatalf("%d change callbacks, want 1 (only the create changed a store)", *changes)
	}
	// A broken rule is the result's error with Propose, the error with Apply.
	other := settings
	other.MaxReadCount = 7
	res, err = r.Propose(ctx, meta.Command{Op: meta.OpCreate, Store: "orders", Settings: other, Origin: "api"})
	if err != nil || codes.As(res.Err()).Code != codes.StoreAlreadyExists {
		t.Fatalf("conflicting create: %+v %v", res, err)
	}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpCreate, Store: "orders", Settings: other, Origin: "api"}); codes.As(err).Code != codes.StoreAlreadyExists {
		t.Fatalf("conflicting create through Apply: %v", err)
	}
}

// Removing a node whose replica no other node can take leaves its store
// degraded, and that status change is announced like any other.
func TestRegistryAnnouncesStoresDegradedByANodeRemoval(t *testing.T) {
	r, pub, _ := openRegistry(t)
	ctx := context.Background()
	for id := uint64(1); id <= 2; id++ {
		if _, err := r.Apply(ctx, meta.Command{Op: meta.OpRegisterNode, NodeID: id, RaftAddress: fmt.Sprintf("127.0.0.1:%d", id)}); err != nil {
			t.Fatal(err)
		}
	}
	settings := meta.Settings{ReplicationFactor: 2, RequestTimeoutMs: 5000, MaxEventSize: 1 << 20, MaxAppendEvents: 100, MaxReadCount: 100}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpCreate, Store: "orders", Settings: settings, Origin: "api"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpSetStatus, Store: "orders", Status: meta.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, meta.Command{Op: meta.OpRemoveNode, NodeID: 2}); err != nil {
		t.Fatal(err)
	}
	if s, err := r.Store("orders"); err != nil || s.Status != meta.StatusDegraded {
		t.Fatalf("store %+v %v", s, err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	last := pub.evs[len(pub.evs)-1]
	if len(pub.evs) != 3 || pub.subj[2] != "stores.events.orders.status_changed" || last.Status != meta.StatusDegraded || last.Previous != meta.StatusRunning {
		t.Fatalf("announced %v %+v", pub.subj, pub.evs)
	}
}

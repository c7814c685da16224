// Package lifecycle runs the store lifecycle on the registry: it serves the
// registry subjects (stores.create/remove/list/status/config and the
// registry lookup, plus the operations other parts plug in), and reconciles
// this node's replicas with the registry: it creates the default and
// configured stores, starts the replicas placed here, reports stores
// running, and removes replicas. See DESIGN.md.
package lifecycle

import (
	"context"
	"sync"
	"time"

	"github.com/logbookdb/logbook/services/storenode/internal/broadcast"
	"github.com/logbookdb/logbook/services/storenode/internal/run"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// Lifecycle owns the registry subscriptions, its own lock, and two
// goroutines: the reconciler and the meta leader follower; Close stops them.
type Lifecycle struct {
	cfg    Config
	run    *run.Group
	ctx    context.Context // cancelled by Close
	poke   chan struct{}   // wakes the reconciler
	leader chan struct{}   // wakes the meta leader follower
	passes int             // reconciler passes (reconciler only)
	// What the next reconciler pass must look at (reconcile.go).
	changeMu  sync.Mutex
	changed   map[string]bool // stores the registry changed since the last pass
	changeAll bool            // any store may have changed: a full pass
	// Reconciler only: the stores not yet settled here, and when the last
	// full pass ran.
	pending  map[string]bool
	lastFull time.Time
	applied  *broadcast.Signal // fires each time the meta replica applies a change

	resMu    sync.Mutex
	reserved map[string][]uint64 // store -> nodes, of the creates in flight (limit.go)

	mu            sync.Mutex
	serving       bool               // the registry subjects are served (the owner check passed)
	metaSub       *nats.Subscription // registry writes, while this node leads the meta shard
	mismatch      map[string]string  // configured store id -> how the registry differs
	settled       map[string]bool    // configured stores dealt with (created or reported)
	bootstrapped  bool               // the default store is in the registry
	staticPending bool               // a configured store waits to be created
}

// New returns the lifecycle; Start starts it.
func New(cfg Config) *Lifecycle {
	g := run.New()
	return &Lifecycle{
		cfg: cfg, run: g, ctx: g.Context(),
		poke: make(chan struct{}, 1), leader: make(chan struct{}, 1), applied: broadcast.New(),
		mismatch: map[string]string{}, settled: map[string]bool{}, reserved: map[string][]uint64{},
		changed: map[string]bool{}, changeAll: true, pending: map[string]bool{},
	}
}

// Start starts the reconciler (every 250 ms and when poked) and the meta
// leader follower (twice a second and at every leader change).
func (l *Lifecycle) Start() {
	l.run.Loop(250*time.Millisecond, l.poke, l.reconcileStep)
	l.run.Loop(500*time.Millisecond, l.leader, l.syncMetaLeader)
}

// Close stops the goroutines, then leaves every registry subject.
func (l *Lifecycle) Close() { l.run.Close() }

// Poke makes the reconciler run a pass soon; it never blocks.
func (l *Lifecycle) Poke() { wake(l.poke) }

// MetaApplied tells the lifecycle that the meta replica applied a change
// to store (meta.AnyStore: to any): the reconciler runs a pass soon and
// creates waiting for their store to run look again. It never blocks (it
// runs on dragonboat's goroutine).
func (l *Lifecycle) MetaApplied(store string) {
	l.changeMu.Lock()
	if store == meta.AnyStore {
		l.changeAll = true
	} else {
		l.changed[store] = true
	}
	l.changeMu.Unlock()
	l.applied.Fire()
	wake(l.poke)
}

// LeaderChanged makes the meta leader follower look again; it never blocks
// (it runs on dragonboat's goroutines).
func (l *Lifecycle) LeaderChanged() { wake(l.leader) }

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Ready reports whether the default store is created and running and every
// store the registry places here has its replica started.
func (l *Lifecycle) Ready() bool {
	l.mu.Lock()
	bootstrapped := l.bootstrapped
	l.mu.Unlock()
	if !bootstrapped || !l.defaultRunning() {
		return false
	}
	stores, err := l.cfg.Registry.Stores()
	if err != nil {
		return true // placement unknown: nothing to wait for here
	}
	for _, s := range stores {
		if s.HasReplica(l.cfg.NodeID) && s.Status != meta.StatusRemoving && !l.cfg.Replicas.Running(s.ID) {
			return false // the reconciler has not started it yet
		}
	}
	return true
}

// defaultRunning reports whether the registry shows the default store running.
func (l *Lifecycle) defaultRunning() bool {
	s, err := l.cfg.Registry.Store(l.cfg.DefaultStore)
	if err != nil {
		return false
	}
	return s != nil && (s.Status == meta.StatusRunning || s.Status == meta.StatusDegraded)
}

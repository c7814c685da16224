// Package lifecycle runs the store lifecycle on the registry: it serves the
// registry subjects (stores.create/remove/list/status/config and the
// registry lookup, plus the operations other parts plug in), and reconciles
// this node's replicas with the registry: it creates the default and
// configured stores, starts the replicas placed here, reports stores
// running, and removes replicas. See DESIGN.md.
package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/nats-io/nats.go"
)

// Replicas is the set of store replicas running on this node.
type Replicas interface {
	// Start starts this node's replica of a store; addrs maps node ids to
	// Raft addresses, for the initial members.
	Start(spec replica.Spec, addrs map[uint64]string) error
	// Stop stops serving a store here and stops its replica; with
	// removeData it also deletes the replica's Raft log and data. shard
	// names the store's shard even when no replica runs here.
	Stop(id string, shard uint64, removeData bool) error
	// Running reports whether a replica of the store runs here.
	Running(id string) bool
	// List returns the replicas running here.
	List() []replica.Spec
}

// Raft is what the lifecycle needs of the Raft host (raft.Host).
type Raft interface {
	Leader(shard uint64) (uint64, bool)
	Leads(shard uint64) bool
}

// Admission tells whether this node may act on the registry yet
// (formation.Formation).
type Admission interface {
	Admitted() bool
	Fatal() error
}

// Moves carries out node removals (cluster.Cluster); the reconciler drives
// it on each pass with the registry it read.
type Moves interface {
	DriveMoves(stores []*meta.Store, addrs map[uint64]string)
	RetireLeaving(stores []*meta.Store)
}

// Op serves one registry operation: a reply to encode, or an error.
type Op func(ctx context.Context, data []byte) (any, error)

// Config configures the lifecycle.
type Config struct {
	NodeID         uint64
	DefaultStore   string
	StaticStores   []proto.StaticStore
	MaxStores      int
	InitialSize    int
	Limits         wire.Limits
	RequestTimeout time.Duration
	NATS           *nats.Conn
	Logger         *slog.Logger
	Server         *serve.Server
	Raft           Raft
	Registry       *registry.Registry
	Replicas       Replicas
	Admission      Admission
	Moves          Moves
	// Writes are the other registry writes served on the meta leader
	// (_LB.meta.<op>), by operation; Reads the other registry reads served
	// by any node (_LB.metaread.<op>).
	Writes map[string]Op
	Reads  map[string]Op
}

// Lifecycle owns the registry subscriptions, its own lock, and two
// goroutines: the reconciler and the meta leader follower; Close stops them.
type Lifecycle struct {
	cfg    Config
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	loops  sync.WaitGroup
	poke   chan struct{} // wakes the reconciler
	leader chan struct{} // wakes the meta leader follower

	mu            sync.Mutex
	serving       bool                 // the registry subjects are served (the owner check passed)
	closed        bool                 // no new subscriptions
	subs          []*nats.Subscription // registry lookup and reads
	metaSub       *nats.Subscription   // registry writes, while this node leads the meta shard
	mismatch      map[string]string    // configured store id -> how the registry differs
	settled       map[string]bool      // configured stores dealt with (created or reported)
	bootstrapped  bool                 // the default store is in the registry
	staticPending bool                 // a configured store waits to be created
}

// New returns the lifecycle; Start starts it.
func New(cfg Config) *Lifecycle {
	ctx, cancel := context.WithCancel(context.Background())
	return &Lifecycle{
		cfg: cfg, ctx: ctx, cancel: cancel,
		poke: make(chan struct{}, 1), leader: make(chan struct{}, 1),
		mismatch: map[string]string{}, settled: map[string]bool{},
	}
}

// Start starts the reconciler and the meta leader follower.
func (l *Lifecycle) Start() {
	l.loops.Add(2)
	go l.reconcileLoop()
	go l.followMeta()
}

// Close stops the goroutines, then leaves every registry subject.
func (l *Lifecycle) Close() {
	l.cancel()
	l.loops.Wait()
	l.mu.Lock()
	l.closed = true
	subs := append(l.subs, l.metaSub)
	l.subs, l.metaSub = nil, nil
	l.mu.Unlock()
	for _, sub := range subs {
		if sub != nil {
			sub.Unsubscribe()
		}
	}
}

// Poke makes the reconciler run a pass soon; it never blocks.
func (l *Lifecycle) Poke() { wake(l.poke) }

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

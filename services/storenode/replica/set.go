package replica

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/services/storenode/internal/broadcast"
	"github.com/logbookdb/logbook/services/storenode/metrics"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Raft is what the Set asks of Raft: a *raft.Host in production, a fake in
// tests.
type Raft interface {
	HasReplica(shard uint64) bool
	StartOnDisk(rc raft.ReplicaConfig, members map[uint64]string, join bool, create func() dbsm.IOnDiskStateMachine) error
	Stop(shard uint64) error
	RemoveData(ctx context.Context, shard uint64) error
	Leads(shard uint64) bool
	Follows(shard uint64) bool
	Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error)
	Read(ctx context.Context, shard uint64, q any) (any, error)
	StaleRead(shard uint64, q any) (any, error)
}

// Task is a leader task: a background job that runs on a store's leader
// only, for as long as this node leads it (live event publication,
// persistent subscription delivery). Its context is cancelled when
// leadership moves, the replica stops or the Set closes; it must return
// promptly then.
type Task func(ctx context.Context, r *Replica)

// Config configures a Set.
type Config struct {
	Raft Raft
	// Engine holds every store replica of this node, each under its own
	// prefix (shard id, NodeID: the replica id is the node id).
	Engine *sm.Engine
	NodeID uint64
	// Dir held one data directory per store (Dir/<store id>) before the
	// engine was shared: a store's old directory is migrated into the
	// engine when its replica opens (sm/legacy.go).
	Dir string
	// ElectionTicks is the election timeout in Raft ticks.
	ElectionTicks uint64
	// SnapshotEntries is how many Raft entries a store's replica applies
	// between two snapshots of its own (its log is then compacted up to
	// CompactionOverhead entries before the snapshot: a follower further
	// behind is sent a snapshot). Defaults 100,000 and 20,000.
	SnapshotEntries, CompactionOverhead uint64
	// MaxBatch bounds how many commands one Raft entry carries; Proposers
	// is how many entries of one store may be in flight.
	MaxBatch, Proposers int
	// Serve starts serving a store's requests, when this node starts
	// leading it; stop stops. Called by the follower only, never under a lock.
	Serve func(r *Replica) (stop func(), err error)
	// NoQuiesce keeps idle store shards ticking and heartbeating (see
	// DESIGN.md, "Idle stores"); by default they quiesce.
	NoQuiesce bool
	// Tasks run on every store this node leads.
	Tasks []Task
	// OnPass, if set, runs at every pass of the follower, before the
	// stores: other leadership-driven work rides on the same loop.
	OnPass func()
	// Wake is poked (by Raft's leader-change callback and by Start) to make
	// the follower pass at once; buffered, never blocked on.
	Wake chan struct{}
	// StoreVersion returns the active cluster version of the store state
	// machines (the registry's): a command that needs more is refused
	// before it is proposed. Nil: every command is allowed (tests).
	StoreVersion func() (uint32, error)
	// HibernateAfter: a replica whose store applied nothing for this long
	// becomes dormant (dormant.go); 0 keeps every replica running.
	HibernateAfter time.Duration
	// MaxRunning, with HibernateAfter set, bounds the replicas running here:
	// beyond it the longest idle ones (idle at least MinIdleForLimit) become
	// dormant early. 0: no bound.
	MaxRunning int
	// CanHibernate, if set, may keep an idle replica running (the store
	// is not settled in the registry, leads persistent subscriptions).
	CanHibernate func(r *Replica) bool
	// Campaign, if set, asks node's replica of the store to stand for
	// election now if it knows no leader (campaign.go); it must not block.
	// Nil: first leaders come after an election timeout.
	Campaign func(node uint64, spec Spec)
	// Announce, if set, asks every node holding a replica of the store to
	// wake it (a broadcast): a leader calls it when a proposal comes after
	// it was idle, since its followers may be dormant. It must not block.
	Announce func(store string)
	// Metrics receives each store's counters; default: metrics of the Set's
	// own, not served.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Set owns the replicas running on this node, their proposers and leader
// tasks, and the follower that serves a store exactly while this node leads
// it (see follow.go).
type Set struct {
	cfg    Config
	ctx    context.Context // cancelled by Close: parent of every replica's
	cancel context.CancelFunc

	followCancel context.CancelFunc
	follower     sync.WaitGroup
	tasks        sync.WaitGroup

	wakes atomic.Uint64 // dormant replicas started again

	mu       sync.Mutex
	replicas map[string]*Replica // by store id
	dormant  map[string]*dormant // by store id; never in replicas too
	// storeMu orders the starts, stops, hibernations and wakes of each
	// store (lockStore).
	storeMu map[string]*sync.Mutex
	closing bool // no store is served again (Unserve)
}

// The default snapshot interval and log overhead of a store's replicas
// (Config.SnapshotEntries, CompactionOverhead).
const (
	DefaultSnapshotEntries    = 100_000
	DefaultCompactionOverhead = 20_000
)

// New returns an empty Set; Follow starts its follower.
func New(cfg Config) *Set {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(0)
	}
	if cfg.Wake == nil {
		cfg.Wake = make(chan struct{}, 1)
	}
	if cfg.SnapshotEntries == 0 {
		cfg.SnapshotEntries = DefaultSnapshotEntries
	}
	if cfg.CompactionOverhead == 0 {
		cfg.CompactionOverhead = DefaultCompactionOverhead
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Set{cfg: cfg, ctx: ctx, cancel: cancel, replicas: map[string]*Replica{}, dormant: map[string]*dormant{}, storeMu: map[string]*sync.Mutex{}}
}

func (s *Set) dir(id string) string { return filepath.Join(s.cfg.Dir, id) }

// Start starts this node's replica of a store. addrs maps node ids to Raft
// addresses, for the initial members. A replica that was dormant when this
// node stopped stays dormant (dormant.go): it reports dormant true.
func (s *Set) Start(spec Spec, addrs map[uint64]string) (dormant bool, err error) {
	// Under the store's lock: a wake never leaves a moment where the
	// replica is neither dormant nor running for a start to slip into.
	defer s.lockStore(spec.ID)()
	s.mu.Lock()
	_, running := s.replicas[spec.ID]
	_, asleep := s.dormant[spec.ID]
	s.mu.Unlock()
	if running || asleep {
		return asleep, nil // started (or woken) meanwhile
	}
	if ok, err := s.startDormant(spec); ok || err != nil {
		return ok, err
	}
	return false, s.start(spec, addrs)
}

func (s *Set) start(spec Spec, addrs map[uint64]string) error {
	dir := s.dir(spec.ID)
	limits := spec.Limits
	r := &Replica{spec: spec, raft: s.cfg.Raft, applied: broadcast.New(), metrics: s.cfg.Metrics.Store(spec.ID), storeVersion: s.cfg.StoreVersion}
	r.touchApplied()
	if s.hibernating() && s.cfg.Announce != nil {
		r.announce, r.announceAfter = func() { s.cfg.Announce(spec.ID) }, s.cfg.HibernateAfter/2
	}
	create := func() dbsm.IOnDiskStateMachine {
		m := sm.New(s.cfg.Engine, spec.ShardID, s.cfg.NodeID, dir, limits)
		m.OnApply(func(uint64) { r.touchApplied(); r.applied.Fire() })
		r.sm.Store(m)
		return m
	}
	rc := raft.ReplicaConfig{ShardID: spec.ShardID, ElectionTicks: s.electionTicks(spec), SnapshotEntries: s.cfg.SnapshotEntries, CompactionOverhead: s.cfg.CompactionOverhead, Quiesce: !s.cfg.NoQuiesce}
	// Every replica starts with the same initial members, taken from the
	// registry (node id = replica id); a restarted replica takes its
	// membership from its Raft log instead.
	members := map[uint64]string{}
	if !spec.Join && !s.cfg.Raft.HasReplica(spec.ShardID) {
		for _, id := range spec.Replicas {
			addr, ok := addrs[id]
			if !ok {
				return fmt.Errorf("storenode: store %s: replica node %d is not registered", spec.ID, id)
			}
			members[id] = addr
		}
	}
	if err := s.cfg.Raft.StartOnDisk(rc, members, spec.Join, create); err != nil {
		return fmt.Errorf("storenode: start store %s: %w", spec.ID, err)
	}
	r.proposer = newProposer(s.cfg.Raft, spec.ShardID, s.cfg.MaxBatch, s.cfg.Proposers, spec.Timeout)
	r.proposer.batchSizes = r.metrics.Batch
	r.ctx, r.stop = context.WithCancel(s.ctx)
	r.proposer.start(r.ctx, s.cfg.Proposers)
	s.mu.Lock()
	if s.closing {
		// Close has waited for the proposers it saw, or is about to: this
		// one must not outlive it.
		s.mu.Unlock()
		r.stopped = true
		s.halt(r, nil, nil)
		return fmt.Errorf("storenode: start store %s: the node is stopping", spec.ID)
	}
	s.replicas[spec.ID] = r
	delete(s.dormant, spec.ID) // a wake: running from now on, in one step
	s.elect(r)
	s.mu.Unlock()
	s.Poke()
	return nil
}

// lockStore locks the store's own mutex and returns its unlock.
func (s *Set) lockStore(id string) func() {
	s.mu.Lock()
	m := s.storeMu[id]
	if m == nil {
		m = &sync.Mutex{}
		s.storeMu[id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// soloElectionTicks is the election timeout of a store with a single
// replica: 3 ticks, the least dragonboat allows (more than twice the
// heartbeat of 1 tick).
const soloElectionTicks = 3

// electionTicks is the election timeout of a store's replica. A store with
// one replica has no one to detect the failure of: its election timeout
// only delays its first leader (a new store, a restart), so it is the
// shortest. A store with several replicas keeps the configured timeout,
// which is how fast a dead leader is replaced. A replica joining a store
// (a move) takes the configured one: the group has several members then.
func (s *Set) electionTicks(spec Spec) uint64 {
	if len(spec.Replicas) == 1 && !spec.Join && s.cfg.ElectionTicks > soloElectionTicks {
		return soloElectionTicks
	}
	return s.cfg.ElectionTicks
}

// Stop stops serving a store here and stops its Raft replica; with
// removeData it also deletes the replica's Raft log and its keys in the
// engine (compacted away, so the space is freed).
// shardID names the store's shard even when no replica runs here (a removal
// interrupted by a crash), so that its Raft log is never left behind.
func (s *Set) Stop(id string, shardID uint64, removeData bool) error {
	defer s.lockStore(id)()
	s.mu.Lock()
	r := s.replicas[id]
	var unserve func()
	var stopTasks context.CancelFunc
	if r != nil {
		unserve, stopTasks = s.take(r)
	}
	s.mu.Unlock()
	if r != nil {
		if err := s.halt(r, unserve, stopTasks); err != nil {
			return err
		}
	}
	// RemoveData needs the shard fully stopped, which completes asynchronously.
	rctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	s.forgetDormant(rctx, id)
	if !removeData {
		return nil
	}
	s.cfg.Metrics.Forget(id) // the store is removed here: its series go
	if err := s.cfg.Raft.RemoveData(rctx, shardID); err != nil {
		return fmt.Errorf("storenode: remove raft data of %s: %w", id, err)
	}
	if err := s.cfg.Engine.RemoveReplica(shardID, s.cfg.NodeID); err != nil {
		return fmt.Errorf("storenode: remove data of %s: %w", id, err)
	}
	// A store removed before its replica ever opened with this build may
	// still have its old directory.
	if err := os.RemoveAll(s.dir(id)); err != nil {
		return fmt.Errorf("storenode: remove data of %s: %w", id, err)
	}
	return nil
}

// take takes r out of the running replicas, for good: it is never served
// again (see lead). It returns what stops its serving and its leader
// tasks, for halt. The caller holds s.mu.
func (s *Set) take(r *Replica) (unserve func(), stopTasks context.CancelFunc) {
	delete(s.replicas, r.spec.ID)
	r.stopped = true
	unserve, stopTasks = r.unserve, r.leadCancel
	r.unserve, r.leadCancel = nil, nil
	return unserve, stopTasks
}

// halt stops a replica taken out: its serving, its leader tasks, its
// proposer, then its Raft replica.
func (s *Set) halt(r *Replica, unserve func(), stopTasks context.CancelFunc) error {
	if stopTasks != nil {
		stopTasks()
	}
	if unserve != nil {
		unserve()
	}
	r.stop()
	r.proposer.wait()
	// No task outlives its replica: live and delivery read and propose
	// through it until they return.
	r.tasks.Wait()
	if err := s.cfg.Raft.Stop(r.spec.ShardID); err != nil {
		return fmt.Errorf("storenode: stop store %s: %w", r.spec.ID, err)
	}
	return nil
}

// Get returns the running replica of a store, or nil.
func (s *Set) Get(id string) *Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas[id]
}

// List returns the running replicas, in no order.
func (s *Set) List() []*Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Replica, 0, len(s.replicas))
	for _, r := range s.replicas {
		out = append(out, r)
	}
	return out
}

// Serving reports whether this node serves r's requests (it leads the
// store and has subscribed).
func (s *Set) Serving(r *Replica) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.unserve != nil
}

// Unserve stops serving every store, for good: the follower serves none
// again. The first step of shutting down, after StopFollowing.
func (s *Set) Unserve() {
	s.mu.Lock()
	s.closing = true
	var stops []func()
	for _, r := range s.replicas {
		if r.unserve != nil {
			stops = append(stops, r.unserve)
			r.unserve = nil
		}
	}
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

// Close stops every proposer and leader task and waits for them. The Raft
// replicas keep running: closing the raft.Host stops them. Call after
// StopFollowing and Unserve, once the requests in flight are answered.
func (s *Set) Close() {
	// A start (or wake) that adds a replica after this sees closing and
	// stops it itself.
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.tasks.Wait()
	for _, r := range s.List() {
		r.proposer.wait()
	}
}

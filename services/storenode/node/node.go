// Package node is a storenode: it owns a dragonboat NodeHost, the replicas of
// the stores placed on it, and the NATS subscriptions through which the
// gateway reaches the leader of each store. See DESIGN.md.
package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Node is a running storenode.
type Node struct {
	cfg    Config
	host   *raft.Host
	reg    *registry.Registry
	ctx    context.Context // cancelled by Close; parent of every request
	cancel context.CancelFunc

	mu       sync.Mutex
	replicas map[string]*storeReplica // by store id

	mismatch      map[string]string // static store id -> how the registry differs (under mu)
	metaSub       *nats.Subscription
	metaReadSub   *nats.Subscription
	clusterSub    *nats.Subscription // answers _LB.owner._cluster once the cluster UID is known
	clusterOK     bool               // under mu: no other cluster answers on this NATS
	fatal         error              // under mu: the node cannot serve (see WaitReady)
	metaLeader    *nats.Subscription // set while this node leads the meta shard
	reconcileCh   chan struct{}
	bootstrapped  bool            // under mu: the default store is in the registry
	settled       map[string]bool // under mu: configured stores dealt with (created or reported)
	staticPending bool            // under mu: a configured store waits to be created
	leaderEvents  chan struct{}   // poked by dragonboat's leader callbacks
	srv           *serve.Server   // runs the requests, at most 4096 at once
	closing       bool            // under mu: no new requests, no new subscriptions
	followCtx     context.Context // cancelled first by Close: stops followLeaders
	stopFollow    context.CancelFunc
	loops         sync.WaitGroup
	tasks         sync.WaitGroup // leader tasks (leadertasks.go)
	registrySub   *nats.Subscription

	// Cluster formation (bootstrap.go, membership.go).
	discoverSub *nats.Subscription
	bootSub     *nats.Subscription
	bootMu      sync.Mutex             // serialises the formation handshake
	lock        *bootLock              // under mu: this node's formation promise
	metaStarted bool                   // under mu: the meta replica runs
	foreign     map[string]foreignNode // under mu: other clusters' nodes seen

	// Heartbeats (heartbeat.go).
	started      time.Time
	heartbeatSub *nats.Subscription // under mu
	peers        map[uint64]peer    // under mu: latest heartbeat of each node
}

// replica is one store's replica on this node.
type storeReplica struct {
	spec     replica.Spec
	proposer *proposer
	stop     context.CancelFunc // stops the proposer

	// Written by followLeaders under Node.mu.
	leaderSub  *nats.Subscription // set while this node leads and serves the store
	leadCancel context.CancelFunc // stops the leader tasks (see leadertasks.go)

	// applied fires after each batch the state machine applies.
	applied *signal
}

// Start starts a storenode: the NodeHost, a replica of every configured store,
// and the NATS subscriptions. It returns once everything is started; use
// WaitReady to wait until every store has a leader.
func Start(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	followCtx, stopFollow := context.WithCancel(ctx)
	n := &Node{
		cfg: cfg, ctx: ctx, cancel: cancel, followCtx: followCtx, stopFollow: stopFollow,
		replicas:     map[string]*storeReplica{},
		mismatch:     map[string]string{},
		settled:      map[string]bool{},
		reconcileCh:  make(chan struct{}, 1),
		leaderEvents: make(chan struct{}, 1),
		srv:          serve.New(4096),
		started:      time.Now(),
	}
	host, err := raft.Open(raft.Config{
		NodeID: cfg.NodeID, Dir: filepath.Join(cfg.DataDir, "raft"),
		RaftAddress: cfg.RaftAddress, ListenAddress: cfg.ListenAddress, RTT: cfg.RTT,
		OnLeaderChange: n.pokeLeaders, Logger: cfg.Logger,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("storenode: %w", err)
	}
	n.host = host
	n.reg = registry.New(host, cfg.NATS, cfg.RequestTimeout, n.pokeReconcile)
	if err := n.startCluster(); err != nil {
		n.Close()
		return nil, err
	}
	n.loops.Add(3)
	go n.followLeaders()
	go n.reconcileLoop()
	go n.heartbeatLoop()
	return n, nil
}

// startCluster answers discovery and starts the meta replica: from disk if
// this node has run it before, else by forming or joining the cluster in
// the background (see bootstrap.go).
func (n *Node) startCluster() error {
	if err := n.serveDiscovery(); err != nil {
		return err
	}
	if n.host.HasReplica(meta.ShardID) {
		return n.startMetaReplica(nil, false)
	}
	lock, err := n.loadBootLock()
	if err != nil {
		return err
	}
	n.lock = lock
	if lock != nil && lock.Committed {
		return n.startMetaReplica(lock.Members, false)
	}
	n.loops.Add(1)
	go n.formOrJoin()
	return nil
}

func (n *Node) storeDir(id string) string { return filepath.Join(n.cfg.DataDir, "stores", id) }

// startReplica starts this node's replica of a store.
// addrs maps node ids to Raft addresses, for the initial members.
func (n *Node) startReplica(spec replica.Spec, addrs map[uint64]string) error {
	dir := n.storeDir(spec.ID)
	limits := spec.Limits
	r := &storeReplica{spec: spec, applied: newSignal()}
	create := func() dbsm.IOnDiskStateMachine {
		m := sm.New(dir, limits)
		m.OnApply(func(uint64) { r.applied.fire() })
		return m
	}
	rc := raft.ReplicaConfig{ShardID: spec.ShardID, ElectionTicks: n.cfg.ElectionTicks, SnapshotEntries: 100_000, CompactionOverhead: 20_000}
	// Every replica starts with the same initial members, taken from the
	// registry (node id = replica id); a restarted replica takes its
	// membership from its Raft log instead.
	members := map[uint64]string{}
	if !spec.Join && !n.host.HasReplica(spec.ShardID) {
		for _, id := range spec.Replicas {
			addr, ok := addrs[id]
			if !ok {
				return fmt.Errorf("storenode: store %s: replica node %d is not registered", spec.ID, id)
			}
			members[id] = addr
		}
	}
	if err := n.host.StartOnDisk(rc, members, spec.Join, create); err != nil {
		return fmt.Errorf("storenode: start store %s: %w", spec.ID, err)
	}
	pcfg := n.cfg
	pcfg.RequestTimeout = spec.Timeout
	r.proposer = newProposer(n.host, spec.ShardID, &pcfg)
	var pctx context.Context
	pctx, r.stop = context.WithCancel(n.ctx)
	r.proposer.start(pctx, n.cfg.Proposers)
	n.mu.Lock()
	n.replicas[spec.ID] = r
	n.mu.Unlock()
	n.pokeLeaders()
	return nil
}

// stopReplica stops serving a store here and stops its Raft replica; with
// removeData it also deletes the replica's Raft log and its data directory.
// shardID names the store's shard even when no replica runs here (a removal
// interrupted by a crash), so that its Raft log is never left behind.
func (n *Node) stopReplica(id string, shardID uint64, removeData bool) error {
	n.mu.Lock()
	r := n.replicas[id]
	delete(n.replicas, id)
	var subs []*nats.Subscription
	if r != nil {
		subs = append(subs, r.leaderSub)
		r.leaderSub = nil
	}
	n.mu.Unlock()
	if r != nil {
		n.stopLeaderTasks(r)
		for _, sub := range subs {
			if sub != nil {
				sub.Unsubscribe()
			}
		}
		r.stop()
		r.proposer.wait()
		if err := n.host.Stop(r.spec.ShardID); err != nil {
			return fmt.Errorf("storenode: stop store %s: %w", id, err)
		}
	}
	if !removeData {
		return nil
	}
	// RemoveData needs the shard fully stopped, which completes asynchronously.
	rctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if err := n.host.RemoveData(rctx, shardID); err != nil {
		return fmt.Errorf("storenode: remove raft data of %s: %w", id, err)
	}
	if err := os.RemoveAll(n.storeDir(id)); err != nil {
		return fmt.Errorf("storenode: remove data of %s: %w", id, err)
	}
	return nil
}

// WaitReady blocks until every hosted store has a leader and, where this
// node leads, is served; it fails if a store cannot be served because another
// Logbook with other data holds the same store id on this NATS.
func (n *Node) WaitReady(ctx context.Context) error {
	for {
		n.mu.Lock()
		fatal := n.fatal
		n.mu.Unlock()
		if fatal != nil {
			return fatal
		}
		ready := n.isBootstrapped() && n.defaultRunning()
		if _, ok := n.host.Leader(meta.ShardID); !ok {
			ready = false
		}
		placed := n.placedHere()
		n.mu.Lock()
		for _, id := range placed {
			if _, ok := n.replicas[id]; !ok {
				ready = false // the reconciler has not started it yet
			}
		}
		for _, r := range n.replicas {
			leader, ok := n.host.Leader(r.spec.ShardID)
			if !ok || (leader == n.cfg.NodeID && r.leaderSub == nil) {
				ready = false
			}
		}
		n.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("storenode: stores have no leader yet: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// placedHere lists the stores the registry places on this node (except
// those being removed).
func (n *Node) placedHere() []string {
	stores, err := n.reg.Stores()
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range stores {
		if s.HasReplica(n.cfg.NodeID) && s.Status != meta.StatusRemoving {
			out = append(out, s.ID)
		}
	}
	return out
}

// Close stops serving and shuts the node down, in order: stop following
// leadership (so nothing subscribes again), leave every subject, let the
// requests in flight finish, stop the proposers, close Raft (which closes
// every state machine).
func (n *Node) Close() error {
	// 1. No new subscriptions: stop the leader follower.
	n.stopFollow()
	n.loops.Wait()
	// 2. No new requests: leave every subject; requests that still arrive
	// (callbacks already running) are refused with unavailable.
	for _, sub := range []*nats.Subscription{n.registrySub, n.metaReadSub, n.clusterSub, n.discoverSub, n.bootSub, n.heartbeatSub} {
		if sub != nil {
			sub.Unsubscribe()
		}
	}
	n.mu.Lock()
	if n.metaLeader != nil {
		n.metaLeader.Unsubscribe()
		n.metaLeader = nil
	}
	n.closing = true
	for _, r := range n.replicas {
		if r.leaderSub != nil {
			r.leaderSub.Unsubscribe()
			r.leaderSub = nil
		}
	}
	n.mu.Unlock()
	// 3. Requests in flight get their answers (they are bounded by RequestTimeout).
	n.srv.Drain()
	// 4. Stop the proposers and the leader tasks.
	n.srv.Stop()
	n.cancel()
	n.tasks.Wait()
	n.mu.Lock()
	for _, r := range n.replicas {
		r.proposer.wait()
	}
	n.mu.Unlock()
	// 5. Close Raft: flushes and closes every store's state machine.
	if n.host != nil {
		n.host.Close()
	}
	return nil
}

// pokeLeaders runs on dragonboat's goroutines at every leader change: it
// only pokes the follower loop, never blocks.
func (n *Node) pokeLeaders() {
	select {
	case n.leaderEvents <- struct{}{}:
	default:
	}
}

// followLeaders keeps the leader subscriptions in line with Raft: this node
// serves store.<id> requests exactly while it leads the store. It re-checks
// on every leader change and twice a second in case a change was missed.
func (n *Node) followLeaders() {
	defer n.loops.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		n.syncLeaders()
		select {
		case <-n.followCtx.Done():
			return
		case <-n.leaderEvents:
		case <-tick.C:
		}
	}
}

// syncLeaders is called only from followLeaders; it never waits on NATS.
func (n *Node) syncLeaders() {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return
	}
	reps := make([]*storeReplica, 0, len(n.replicas))
	for _, r := range n.replicas {
		reps = append(reps, r)
	}
	n.mu.Unlock()
	n.syncMetaLeader()
	for _, r := range reps {
		leads := n.host.Leads(r.spec.ShardID)
		switch {
		case leads && r.leaderSub == nil:
			sub, err := n.subscribeLeader(r)
			if err != nil {
				n.cfg.Logger.Error("cannot serve store", "store", r.spec.ID, "err", err)
				continue
			}
			n.mu.Lock()
			r.leaderSub = sub
			n.mu.Unlock()
			n.startLeaderTasks(r)
			n.cfg.Logger.Debug("leading store", "store", r.spec.ID)
		case !leads && r.leaderSub != nil:
			n.stopServing(r)
			n.cfg.Logger.Info("no longer leading store", "store", r.spec.ID)
		}
	}
}

func (n *Node) stopServing(r *storeReplica) {
	n.mu.Lock()
	sub := r.leaderSub
	r.leaderSub = nil
	n.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
	n.stopLeaderTasks(r)
	r.proposer.leaderLost()
}

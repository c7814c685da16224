// Package node is a storenode: it owns a dragonboat NodeHost, the replicas of
// the stores placed on it, and the NATS subscriptions through which the
// gateway reaches the leader of each store. See DESIGN.md.
package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"

	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// Node is a running storenode.
type Node struct {
	cfg    Config
	host   *raft.Host
	reg    *registry.Registry
	ctx    context.Context // cancelled by Close; parent of every request
	cancel context.CancelFunc

	replicas *replica.Set // the data plane (data.go)

	mu sync.Mutex

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
	leaderEvents  chan struct{}   // poked by dragonboat's leader callbacks: wakes the replica set's follower
	srv           *serve.Server   // runs the requests, at most 4096 at once
	closing       bool            // under mu: no new requests, no new subscriptions
	followCtx     context.Context // cancelled first by Close: stops the loops
	stopFollow    context.CancelFunc
	loops         sync.WaitGroup
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
	n.startData()
	n.reg = registry.New(host, cfg.NATS, cfg.RequestTimeout, n.pokeReconcile)
	if err := n.startCluster(); err != nil {
		n.Close()
		return nil, err
	}
	n.replicas.Follow()
	n.loops.Add(2)
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
		for _, id := range n.placedHere() {
			if n.replicas.Get(id) == nil {
				ready = false // the reconciler has not started it yet
			}
		}
		for _, r := range n.replicas.List() {
			leader, ok := n.host.Leader(r.Spec().ShardID)
			if !ok || (leader == n.cfg.NodeID && !n.replicas.Serving(r)) {
				ready = false
			}
		}
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
	// 1. No new subscriptions: stop the leader follower (and the other loops).
	n.stopFollow()
	n.replicas.StopFollowing()
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
	n.mu.Unlock()
	n.replicas.Unserve()
	// 3. Requests in flight get their answers (they are bounded by RequestTimeout).
	n.srv.Drain()
	// 4. Stop the proposers and the leader tasks.
	n.srv.Stop()
	n.cancel()
	n.replicas.Close()
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

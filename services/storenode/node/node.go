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

	leaderEvents chan struct{}   // poked by dragonboat's leader callbacks
	srv          *serve.Server   // runs the requests, at most 4096 at once
	closing      bool            // under mu: no new requests, no new subscriptions
	followCtx    context.Context // cancelled first by Close: stops followLeaders
	stopFollow   context.CancelFunc
	loops        sync.WaitGroup
	tasks        sync.WaitGroup // leader tasks (leadertasks.go)

	ctl control // formation, cluster, lifecycle (control.go)
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
		leaderEvents: make(chan struct{}, 1),
		srv:          serve.New(4096),
	}
	host, err := raft.Open(raft.Config{
		NodeID: cfg.NodeID, Dir: filepath.Join(cfg.DataDir, "raft"),
		RaftAddress: cfg.RaftAddress, ListenAddress: cfg.ListenAddress, RTT: cfg.RTT,
		OnLeaderChange: n.onLeaderChange, Logger: cfg.Logger,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("storenode: %w", err)
	}
	n.host = host
	n.reg = registry.New(host, cfg.NATS, cfg.RequestTimeout, n.pokeReconcile)
	if err := n.startControl(); err != nil {
		n.Close()
		return nil, err
	}
	n.loops.Add(1)
	go n.followLeaders()
	return n, nil
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
		if err := n.Fatal(); err != nil {
			return err
		}
		ready := n.ctl.life.Ready()
		if _, ok := n.host.Leader(meta.ShardID); !ok {
			ready = false
		}
		n.mu.Lock()
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

// Close stops serving and shuts the node down, in order: stop following
// leadership (so nothing subscribes again), leave every subject, let the
// requests in flight finish, stop the proposers, close Raft (which closes
// every state machine).
func (n *Node) Close() error {
	// 1. No new subscriptions: stop the leader follower.
	n.stopFollow()
	n.loops.Wait()
	// 2. No new requests: stop the control plane (formation, lifecycle,
	// heartbeats), which leaves its subjects, then leave the store leader
	// subjects; requests that still arrive (callbacks already running) are
	// refused with unavailable.
	n.closeControl()
	n.mu.Lock()
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

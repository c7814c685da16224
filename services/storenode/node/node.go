// Package node is a storenode: it owns a dragonboat NodeHost, the replicas of
// the stores placed on it, and the NATS subscriptions through which the
// gateway reaches the leader of each store. See DESIGN.md.
package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/logbookdb/logbook/services/storenode/datadir"
	"github.com/logbookdb/logbook/services/storenode/delivery"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/metrics"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/logbookdb/logbook/services/storenode/storeops"
	"github.com/nats-io/nats.go"
)

// Node is a running storenode.
type Node struct {
	cfg    Config
	host   *raft.Host
	engine *sm.Engine // every store replica's data (data.go)
	reg    *registry.Registry

	replicas   *replica.Set         // the data plane (data.go)
	deliveries *delivery.Deliveries // persistent subscription delivery (data.go)
	ops        *storeops.Ops        // the store operations (data.go)
	metrics    *metrics.Metrics

	leaderEvents chan struct{}      // poked by dragonboat's leader callbacks: wakes the replica set's follower
	wakes        *nats.Subscription // the wake broadcast (dormant.go)
	campaigns    *nats.Subscription // campaign requests addressed to this node (campaign.go)
	srv          *serve.Server      // runs the requests, at most 4096 at once

	ctl control // formation, cluster, lifecycle (control.go)

	closeOnce sync.Once
	done      chan struct{} // closed when Close starts (called, or because the node can never serve)
}

// Start starts a storenode: the NodeHost, a replica of every configured store,
// and the NATS subscriptions. It returns once everything is started; use
// WaitReady to wait until every store has a leader.
func Start(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:          cfg,
		leaderEvents: make(chan struct{}, 1),
		srv:          serve.New(4096),
		done:         make(chan struct{}),
		metrics:      metrics.New(cfg.MetricsStoreLimit),
	}
	// The data directory's format, before Raft opens it: a newer one is
	// refused, an older one upgraded in place.
	out, err := datadir.Prepare(cfg.DataDir, Version)
	if err != nil {
		return nil, fmt.Errorf("storenode: %w", err)
	}
	if out != datadir.Current {
		cfg.Logger.Info("data directory format recorded", "dir", cfg.DataDir, "format", datadir.Format, "outcome", out.String())
	}
	// One storage engine for every store replica on this node, open
	// before Raft starts any of them and closed after Raft closed them.
	eng, err := sm.OpenEngine(filepath.Join(cfg.DataDir, "engine"), sm.EngineOptions{})
	if err != nil {
		return nil, fmt.Errorf("storenode: %w", err)
	}
	n.engine = eng
	host, err := raft.Open(raft.Config{
		NodeID: cfg.NodeID, Dir: filepath.Join(cfg.DataDir, "raft"),
		RaftAddress: cfg.RaftAddress, ListenAddress: cfg.ListenAddress, RTT: cfg.RTT,
		OnLeaderChange: n.onLeaderChange, Logger: cfg.Logger, TLS: cfg.RaftTLS,
	})
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("storenode: %w", err)
	}
	n.host = host
	logRaftSecurity(cfg)
	n.startData()
	n.metrics.Register(scrape{n})
	n.reg = registry.New(host, cfg.NATS, cfg.RequestTimeout, n.pokeReconcile)
	if err := n.startControl(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.subscribeWakes(); err != nil {
		n.Close()
		return nil, fmt.Errorf("storenode: subscribe: %w", err)
	}
	if err := n.subscribeCampaigns(); err != nil {
		n.Close()
		return nil, fmt.Errorf("storenode: subscribe: %w", err)
	}
	n.replicas.Follow()
	go n.closeWhenFailed() // ends when the node closes
	return n, nil
}

// closeWhenFailed closes the node once it can never serve (Fatal): a node
// the cluster removed, or one refused at start-up, stops its replicas and
// leaves every subject rather than answer from a registry it is no longer
// part of.
func (n *Node) closeWhenFailed() {
	select {
	case <-n.ctl.form.Failed():
		n.cfg.Logger.Error("this storenode can never serve: closing it", "err", n.Fatal())
		n.Close()
	case <-n.done:
	}
}

// Done is closed once the node closes: Close was called, or the node can
// never serve (Fatal says why; a storenode process then exits).
func (n *Node) Done() <-chan struct{} { return n.done }

// WaitReady blocks until every hosted store has a leader and, where this
// node leads, is served, and the subscriptions have reached the NATS server
// (a request sent once it returns finds them); it fails with the reason
// when the node can never serve (Fatal).
func (n *Node) WaitReady(ctx context.Context) error {
	var settleBy time.Time // how long ready waits for the cluster version
	for {
		if err := n.Fatal(); err != nil {
			return err
		}
		select {
		case <-n.done:
			return errors.New("storenode: closed")
		default:
		}
		// The cheap checks first; the lifecycle's reads the registry.
		_, ready := n.host.Leader(meta.ShardID)
		for _, r := range n.replicas.List() {
			leader, ok := n.host.Leader(r.Spec().ShardID)
			if !ok || (leader == n.cfg.NodeID && !n.replicas.Serving(r)) {
				ready = false
				break
			}
		}
		ready = ready && n.ctl.life.Ready()
		// A fresh cluster starts at the base cluster version and rises to
		// what its nodes support at the registry leader's next heartbeat:
		// raise it now, so that what needs it works once ready is said.
		// Waited for a few seconds at most (another node may hold it).
		if ready && n.ctl.cluster != nil && !n.ctl.cluster.VersionSettled() {
			if settleBy.IsZero() {
				settleBy = time.Now().Add(5 * time.Second)
			}
			if time.Now().Before(settleBy) {
				n.ctl.cluster.RaiseVersion()
				ready = false
			}
		}
		// Ready once the server has every subscription (a round trip).
		if ready && n.cfg.NATS.FlushTimeout(time.Second) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("storenode: stores have no leader yet: %w", ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

// readyPoll is how often WaitReady looks again. Each look walks every
// replica and, once they all have a leader, the registry: with thousands
// of stores starting, a tighter poll costs the start-up CPU it waits for.
const readyPoll = 50 * time.Millisecond

// Close stops serving and shuts the node down, in order: stop following
// leadership (so nothing subscribes again), leave every subject, let the
// requests in flight finish, stop the proposers, close Raft (which closes
// every state machine).
func (n *Node) Close() error {
	n.closeOnce.Do(n.shutdown)
	return nil
}

// handOffTimeout bounds the leadership hand-over of a graceful stop.
const handOffTimeout = 3 * time.Second

// shutdown is Close, once.
func (n *Node) shutdown() {
	close(n.done)
	// 0. Hand the leaderships this node holds to caught-up replicas
	// elsewhere, so that its stores see a transfer, not an election
	// timeout; the follower loop still serves and unserves as they move.
	if cl := n.ctl.cluster; cl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), handOffTimeout)
		moved, stayed := cl.HandOffLeaderships(ctx)
		cancel()
		if moved+stayed > 0 {
			n.cfg.Logger.Info("leaderships handed over before stopping", "moved", moved, "stayed", stayed)
		}
	}
	// 1. No new subscriptions: stop the leader follower.
	n.replicas.StopFollowing()
	// 2. No new requests: stop the control plane (formation, lifecycle,
	// heartbeats), which leaves its subjects, then leave the store leader
	// subjects; requests that still arrive (callbacks already running) are
	// refused with unavailable.
	n.closeControl()
	n.leaveWakes()
	n.leaveCampaigns()
	n.replicas.Unserve()
	// 3. Requests in flight get their answers (they are bounded by RequestTimeout).
	n.srv.Drain()
	// 4. Stop the proposers and the leader tasks.
	n.srv.Stop()
	n.replicas.Close()
	// 5. Close Raft: flushes and closes every store's state machine.
	if n.host != nil {
		n.host.Close()
	}
	// 6. Close the engine, once no state machine uses it.
	if n.engine != nil {
		if err := n.engine.Close(); err != nil {
			n.cfg.Logger.Error("close the storage engine", "err", err)
		}
	}
}

// pokeLeaders runs on dragonboat's goroutines at every leader change: it
// only pokes the follower loop, never blocks.
func (n *Node) pokeLeaders() {
	select {
	case n.leaderEvents <- struct{}{}:
	default:
	}
}

package node

import (
	"context"
	"path/filepath"

	"github.com/logbookdb/logbook/services/storenode/delivery"
	"github.com/logbookdb/logbook/services/storenode/live"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/storeops"
	"github.com/nats-io/nats.go"
)

// startData builds the data plane: the replica set, which serves the store
// operations (storeops) of each store while this node leads it and runs its
// leader tasks, live event publication and persistent subscription
// delivery.
func (n *Node) startData() {
	deliveries := delivery.New(n.cfg.NATS, n.cfg.Logger)
	n.deliveries = deliveries
	ops := storeops.New(n.cfg.NATS, n.srv, deliveries)
	n.ops = ops
	events := live.New(n.cfg.NATS, n.cfg.Logger)
	n.replicas = replica.New(replica.Config{
		Raft:               n.host,
		Engine:             n.engine,
		NodeID:             n.cfg.NodeID,
		Dir:                filepath.Join(n.cfg.DataDir, "stores"),
		ElectionTicks:      n.cfg.ElectionTicks,
		NoQuiesce:          n.cfg.NoQuiesce,
		SnapshotEntries:    n.cfg.StoreSnapshotEntries,
		CompactionOverhead: n.cfg.StoreCompactionOverhead,
		MaxBatch:           n.cfg.MaxBatch,
		Proposers:          n.cfg.Proposers,
		Serve:              func(r *replica.Replica) (func(), error) { return ops.Serve(r) },
		Tasks: []replica.Task{
			func(ctx context.Context, r *replica.Replica) { events.Run(ctx, r) },
			func(ctx context.Context, r *replica.Replica) { deliveries.Run(ctx, r) },
		},
		StoreVersion: func() (uint32, error) {
			v, err := n.reg.ClusterVersion()
			return v.Store, err
		},
		HibernateAfter: n.cfg.HibernateAfter,
		MaxRunning:     n.cfg.MaxRunningReplicas,
		CanHibernate:   n.canHibernate,
		Announce:       n.announceWake,
		Campaign:       n.campaign,
		Wake:           n.leaderEvents,
		Metrics:        n.metrics,
		Logger:         n.cfg.Logger,
	})
}

// startReplica starts this node's replica of a store (see replica.Set.Start).
func (n *Node) startReplica(spec replica.Spec, addrs map[uint64]string) (bool, error) {
	return n.replicas.Start(spec, addrs)
}

// stopReplica stops this node's replica of a store (see replica.Set.Stop).
func (n *Node) stopReplica(id string, shardID uint64, removeData bool) error {
	return n.replicas.Stop(id, shardID, removeData)
}

// ServeLocal serves a store request in the caller's goroutine when this node
// leads the store now, for a gateway in the same process; ok is false
// otherwise, and the request goes through NATS (see storeops.Ops.Local).
func (n *Node) ServeLocal(ctx context.Context, store, op string, data []byte, requestID string) (reply *nats.Msg, ok bool) {
	return n.ops.Local(ctx, store, op, data, requestID)
}

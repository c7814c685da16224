package lifecycle

import (
	"context"
	"log/slog"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Replicas is the set of store replicas running on this node.
type Replicas interface {
	// Start starts this node's replica of a store; addrs maps node ids to
	// Raft addresses, for the initial members. A replica that was dormant
	// when the node stopped stays dormant (dormant true).
	Start(spec replica.Spec, addrs map[uint64]string) (dormant bool, err error)
	// Stop stops serving a store here and stops its replica; with
	// removeData it also deletes the replica's Raft log and data. shard
	// names the store's shard even when no replica runs here.
	Stop(id string, shard uint64, removeData bool) error
	// Running reports whether a replica of the store runs here or is
	// dormant here.
	Running(id string) bool
	// List returns the replicas running here.
	List() []replica.Spec
	// Dormant returns the stores whose replica here is dormant.
	Dormant() []string
	// IsDormant reports whether the store's replica here is dormant.
	IsDormant(id string) bool
	// Wake starts the store's dormant replica here.
	Wake(id string) error
	// RestoreInfo says where a restore into the store stands, as the
	// replica here applied it (false when no replica runs here).
	RestoreInfo(id string) (sm.RestoreInfo, bool)
	// Quota returns the quota the store's state machine here enforces
	// (false when no replica runs here; a dormant one's as it stopped).
	Quota(id string) (sm.Quota, bool)
	// SetQuota proposes the store's quota to its state machine
	// (sm.OpSetQuota) through the replica here, its leader.
	SetQuota(ctx context.Context, id string, q sm.Quota) error
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

// Liveness tells from the heartbeats whether a store can have a leader now
// (cluster.Cluster): false, with how many replicas run, when fewer than a
// quorum of them run.
type Liveness interface {
	NoQuorum(s *meta.Store) (bool, int)
}

// ReplicaLimits tells the other nodes' store replica limits, from their
// heartbeats (cluster.Cluster): 0 when unknown.
type ReplicaLimits interface {
	MaxReplicas(node uint64) int
}

// Op serves one registry operation: a reply to encode, or an error.
type Op func(ctx context.Context, data []byte) (any, error)

// Config configures the lifecycle.
type Config struct {
	NodeID       uint64
	DefaultStore string
	StaticStores []proto.StaticStore
	MaxStores    int
	// MaxReplicas is the most store replicas this node takes (0: no
	// limit); ReplicaLimits tells the other nodes' (limit.go).
	MaxReplicas    int
	ReplicaLimits  ReplicaLimits
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
	Liveness       Liveness
	// Writes are the other registry writes served on the meta leader
	// (_LB.meta.<op>), by operation; Reads the other registry reads served
	// by any node (_LB.metaread.<op>).
	Writes map[string]Op
	Reads  map[string]Op
	// WakeStore, if set, wakes a store a gateway found no node serving (see
	// onLookup): its dormant replicas on every node, and this node's
	// replica if it follows a leader. It must not block.
	WakeStore func(store string)
	// RestoreIdle is how long a store being restored may go without a
	// restore step (or without its first one) before its leader removes
	// it: the client that restored it is gone. Default 2 minutes.
	RestoreIdle time.Duration
	// Usage returns a store's usage and the quota its state machine
	// enforces, from a replica of it (this node's, or another's last
	// heartbeat); false when none is known. Store statuses report it, and
	// stores.set_quota waits for it.
	Usage func(store string) (sm.Usage, bool)
}

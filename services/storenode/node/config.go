package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/nats-io/nats.go"
)

// StaticStore is a store declared in configuration: created at start-up if
// the registry lacks it; if the registry has it with other settings, the
// difference is reported and the registry wins. Heartbeats carry it, so
// that the cluster view can compare it across storenodes (drift).
type StaticStore = proto.StaticStore

// RaftTLS names the CA, certificate and key files of the Raft transport's
// mutual TLS.
type RaftTLS = raft.TLSFiles

// Config configures a storenode.
type Config struct {
	// NodeID is this node's Raft replica id (≥ 1), stable across restarts.
	NodeID uint64
	// RaftAddress is host:port where dragonboat listens for other replicas.
	RaftAddress string
	// ListenAddress is where dragonboat binds, when it differs from
	// RaftAddress (e.g. 0.0.0.0:7100 in a container). Default RaftAddress.
	ListenAddress string
	// RaftTLS, when it names files, makes every Raft connection between
	// storenodes mutually authenticated TLS 1.3 (docs/operations.md, "Securing the Raft transport"); all
	// three files or none. Read at start-up only.
	RaftTLS RaftTLS
	// ClusterName names the cluster; storenodes of other clusters on the same
	// NATS are refused. Default "logbook".
	ClusterName string
	// InitialSize is how many storenodes form the cluster the first time:
	// a fresh node waits until it sees that many. Default 1. Nodes started
	// later join the cluster; restarted nodes rejoin from their data.
	InitialSize int
	// DisableBalancer turns off the leader balancer (balance.go).
	DisableBalancer bool
	// HoldClusterVersion keeps this node, while it leads the registry, from
	// raising the cluster version (cluster/version.go).
	HoldClusterVersion bool
	// HeartbeatInterval is how often the node publishes its state. Default 1s.
	HeartbeatInterval time.Duration
	// RestoreIdle is how long a store being restored may go without a
	// restore step before its leader removes it (the restoring client is
	// gone). Default 2 minutes.
	RestoreIdle time.Duration
	// DataDir holds the Raft log (raft/) and one directory per store (stores/<id>/).
	DataDir string
	// NATS is the connection the node serves requests on; the caller owns it.
	NATS *nats.Conn
	// DefaultStore is the id of the store every cluster has; it cannot be
	// removed. Default "default".
	DefaultStore string
	// StaticStores are declared in configuration and created at start-up.
	StaticStores []StaticStore
	// MaxStores bounds the number of stores in the cluster. Default 10,000.
	MaxStores int
	// MaxReplicas bounds the store replicas this node takes: a create that
	// the registry would place here beyond it answers
	// replica_limit_reached. Default 10,000.
	MaxReplicas int
	// HibernateAfter: a store replica whose store applied nothing for this
	// long stops, until a request wakes it (replica/DESIGN.md, "Dormant
	// stores"). 0 keeps every replica running. Default: none (0).
	HibernateAfter time.Duration
	// MaxRunningReplicas, with HibernateAfter set, bounds the store
	// replicas running here: beyond it the longest idle (10 s or more)
	// become dormant early. Each running replica holds about 1 MiB of
	// dragonboat's queues. 0: no bound.
	MaxRunningReplicas int
	// NoQuiesce keeps idle stores' Raft groups ticking and heartbeating
	// (replica/DESIGN.md, "Idle stores"): for tests and comparisons.
	NoQuiesce bool
	// StoreSnapshotEntries is how many Raft entries a store replica applies
	// between two snapshots; its Raft log keeps StoreCompactionOverhead
	// entries before the latest one, and a follower further behind is sent
	// a snapshot. Defaults 100,000 and a fifth of StoreSnapshotEntries; small
	// values make followers catch up by snapshot (tests).
	StoreSnapshotEntries, StoreCompactionOverhead uint64
	// Limits are enforced on every request.
	Limits wire.Limits
	// RequestTimeout bounds each request, Raft round included. Default 5s.
	RequestTimeout time.Duration
	// RTT is the Raft tick; elections take ElectionTicks of them, and
	// leaders heartbeat every tenth of that (at least every tick).
	// Defaults 50ms, 10: a 500 ms election timeout, heartbeats every 50 ms.
	// (Every replica of every store ticks, idle or not: a longer tick with
	// fewer ticks per election keeps the timeout and cuts the idle cost;
	// see docs/benchmarks-cluster.md.)
	RTT           time.Duration
	ElectionTicks uint64
	// MaxBatch bounds how many commands one Raft entry carries. Default 512.
	MaxBatch int
	// Proposers is how many Raft proposals per store may be in flight. Default 4.
	Proposers int
	// MetricsStoreLimit is how many stores get metric series of their own
	// (labelled store="<id>"); the stores beyond share store="_other".
	// Default 100; negative: none.
	MetricsStoreLimit int
	// Logger receives the node's logs; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.NodeID == 0 {
		return errors.New("storenode: NodeID must be ≥ 1")
	}
	if c.RaftAddress == "" || c.DataDir == "" || c.NATS == nil {
		return errors.New("storenode: RaftAddress, DataDir and NATS are required")
	}
	if err := c.RaftTLS.Check(); err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	if c.ClusterName == "" {
		c.ClusterName = "logbook"
	}
	if err := wire.ValidateStoreID(c.ClusterName); err != nil {
		return fmt.Errorf("storenode: cluster name (same rules as a store id): %w", err)
	}
	if c.InitialSize == 0 {
		c.InitialSize = 1
	}
	if c.InitialSize < 0 || c.InitialSize > 99 {
		return errors.New("storenode: InitialSize must be between 1 and 99")
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.DefaultStore == "" {
		c.DefaultStore = "default"
	}
	if err := wire.ValidateStoreID(c.DefaultStore); err != nil {
		return fmt.Errorf("storenode: default store: %w", err)
	}
	for _, s := range c.StaticStores {
		if err := wire.ValidateStoreID(s.ID); err != nil {
			return fmt.Errorf("storenode: static store: %w", err)
		}
	}
	if c.MaxStores == 0 {
		c.MaxStores = 20_000
	}
	if c.MaxReplicas == 0 {
		c.MaxReplicas = 20_000
	}
	c.Limits = c.Limits.WithDefaults()
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.RTT == 0 {
		c.RTT = 50 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.StoreSnapshotEntries == 0 {
		c.StoreSnapshotEntries = replica.DefaultSnapshotEntries
	}
	if c.StoreCompactionOverhead == 0 {
		c.StoreCompactionOverhead = c.StoreSnapshotEntries / 5
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 512
	}
	if c.Proposers == 0 {
		c.Proposers = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

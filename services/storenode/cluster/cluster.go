// Package cluster is a storenode's view of its cluster: it publishes this
// node's heartbeat and keeps everyone else's, answers cluster.view and
// cluster.health (with drift), balances store leaderships, and carries out
// node removal (replica moves). See DESIGN.md.
package cluster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/internal/run"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Raft is what the cluster needs of the Raft host (raft.Host).
type Raft interface {
	Leads(shard uint64) bool
	Leader(shard uint64) (uint64, bool)
	Membership(ctx context.Context, shard uint64) (raft.Membership, error)
	TransferLeader(shard, to uint64) error
	// Wake brings a quiesced replica back to counting down to elections
	// (wake.go).
	Wake(shard uint64, timeout time.Duration) error
	AddVoter(ctx context.Context, shard, id uint64, addr string, ccid uint64) error
	Remove(ctx context.Context, shard, id uint64, ccid uint64) error
}

// Replicas lists the store replicas running on this node.
type Replicas interface {
	List() []replica.Spec
	// Dormant returns the stores whose replica here is dormant.
	Dormant() []string
	// Wake starts the store's dormant replica here.
	Wake(store string) error
	// Applied returns the last Raft index the store's replica here applied.
	Applied(store string) uint64
	// LocalUsage returns the usage and quota of the store's replica here;
	// false when none runs here.
	LocalUsage(store string) (sm.Usage, bool)
}

// Membership tells whether this node is a cluster member yet (runs its meta
// replica); a fresh node publishes no heartbeat.
type Membership interface {
	Member() bool
}

// Config configures the cluster part of a storenode.
type Config struct {
	ClusterName       string
	NodeID            uint64
	RaftAddress       string
	DataDir           string
	Version           string             // reported in heartbeats
	Versions          Versions           // reported in heartbeats
	Settings          proto.NodeSettings // this node's settings, compared for drift
	HeartbeatInterval time.Duration
	DisableBalancer   bool
	// HoldVersion keeps this node, while it leads the registry, from
	// raising the cluster version (to roll back an upgrade before it is
	// finalized: see Upgrading in docs/operations.md).
	HoldVersion bool
	// Refuse stops the node for good (a build older than the cluster
	// version); nil in tests that do not need it.
	Refuse     func(error)
	Limits     wire.Limits // bounds cluster.* requests
	NATS       *nats.Conn
	Logger     *slog.Logger
	Raft       Raft
	Registry   *registry.Registry
	Replicas   Replicas
	Membership Membership
	Foreign    *Foreign
	// Changed is called after a registry change this part made that the
	// reconciler should act on (a node marked leaving).
	Changed func()
}

// Cluster owns the heartbeat subscription, the latest heartbeat of every
// node (under its lock) and the heartbeat goroutine, which also runs the
// balancer; Close stops them.
type Cluster struct {
	cfg     Config
	started time.Time
	run     *run.Group
	ctx     context.Context // cancelled by Close
	beats   int             // heartbeats so far (heartbeat goroutine only)
	// draining: the node is stopping (HandOffLeaderships); it no longer
	// answers pings, so no balancer hands it a leadership.
	draining atomic.Bool
	// The live nodes (id → process start) at the last beat, and when they
	// last changed (heartbeat goroutine only; balance.go).
	lastLive  map[uint64]int64
	changedAt time.Time

	publish func(subject string, data []byte) error // on the node's NATS connection

	mu      sync.Mutex
	peers   map[uint64]peer // latest heartbeat of each node
	removed map[uint64]bool // ids removed from the meta shard (for good), as last read
}

// New returns the cluster part; Start starts its heartbeats.
func New(cfg Config) *Cluster {
	g := run.New()
	c := &Cluster{cfg: cfg, started: time.Now(), run: g, ctx: g.Context(), peers: map[uint64]peer{}, removed: map[uint64]bool{}}
	c.publish = func(subject string, data []byte) error { return cfg.NATS.Publish(subject, data) }
	return c
}

// Start follows the other nodes' heartbeats and publishes this node's.
func (c *Cluster) Start() {
	if sub, err := c.cfg.NATS.Subscribe(proto.Heartbeat, c.onHeartbeat); err != nil {
		c.cfg.Logger.Error("cannot follow heartbeats", "err", err)
	} else {
		c.run.Keep(sub)
	}
	if sub, err := c.cfg.NATS.Subscribe(proto.Ping(c.cfg.ClusterName, c.cfg.NodeID), func(m *nats.Msg) {
		if !c.draining.Load() { // a stopping node takes no leadership
			m.Respond(nil)
		}
	}); err != nil {
		c.cfg.Logger.Error("cannot answer pings", "err", err)
	} else {
		c.run.Keep(sub)
	}
	c.run.Loop(c.cfg.HeartbeatInterval, nil, c.beat)
}

// Close stops the heartbeat goroutine, then leaves the heartbeat subject.
func (c *Cluster) Close() { c.run.Close() }

// Versions are the versions a storenode supports, beyond its binary's: the
// highest Raft command version its store and meta state machines apply and
// its data-directory format.
type Versions struct {
	StoreCommand uint32
	MetaCommand  uint32
	DataFormat   uint32
}

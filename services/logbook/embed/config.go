package embed

import (
	"log/slog"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/nats-io/nats.go"
)

// DefaultStoreID is the store every Logbook starts with.
const DefaultStoreID = "default"

// Config configures an embedded Logbook. The zero value, with DataDir set,
// runs the single-machine default.
type Config struct {
	// DataDir holds everything Logbook stores. Default "./data".
	DataDir string
	// NATSURL, when set, connects to an existing NATS server instead of
	// embedding one.
	NATSURL string
	// NATSHost and NATSPort are where the embedded NATS server listens.
	// Defaults 127.0.0.1 and 4222; a port of -1 picks a free one.
	NATSHost string
	NATSPort int
	// NATSMaxPayload is the embedded server's max message size. Default 8 MiB.
	NATSMaxPayload int32
	// NATSConfigFile is a nats-server configuration file for the embedded
	// server (authorization, accounts, TLS, …). Its settings win; where it
	// sets no listen host, port, max_payload or server name, the fields
	// above apply. Logbook's own connection, in-process, must then present
	// an identity the file allows: NATSOptions.
	NATSConfigFile string
	// NATSOptions are added to Logbook's own NATS connection (to the
	// embedded server or to NATSURL): authentication and TLS, as built by
	// pkg/natsauth.
	NATSOptions []nats.Option
	// NodeID is the storenode's Raft replica id. Default 1.
	NodeID uint64
	// RaftAddress is where the storenode's Raft transport listens.
	// Default 127.0.0.1:7100.
	RaftAddress string
	// RaftListen is where the Raft transport binds, if not RaftAddress.
	RaftListen string
	// RaftTLS, when it names files, makes the Raft transport mutual TLS
	// (node.Config.RaftTLS): for an all-in-one node in a cluster of them.
	RaftTLS node.RaftTLS
	// ClusterName names the cluster. Default "logbook".
	ClusterName string
	// InitialSize is how many storenodes form the cluster the first time.
	// Default 1: a single Logbook forms its own cluster at once.
	InitialSize int
	// StoreID is the id of the default store. Default "default".
	StoreID string
	// Stores are declared in configuration: created at start-up when the
	// registry lacks them; a difference with the registry is reported.
	Stores []node.StaticStore
	// MaxStores bounds the number of stores. Default 10,000.
	MaxStores int
	// MaxReplicas bounds the store replicas this node takes. Default 10,000.
	MaxReplicas int
	// StoreSnapshotEntries and StoreCompactionOverhead: how often a store
	// replica snapshots and how much Raft log it keeps before the snapshot
	// (node.Config). Defaults 100,000 and a fifth of it.
	StoreSnapshotEntries, StoreCompactionOverhead uint64
	// HibernateAfter: a store idle this long has its replica stopped until
	// the next request (node.Config.HibernateAfter). Default 0: never.
	HibernateAfter time.Duration
	// MaxRunningReplicas bounds the store replicas running, with
	// HibernateAfter (node.Config.MaxRunningReplicas). Default 0: no bound.
	MaxRunningReplicas int
	// MetricsStoreLimit is how many stores get metric series of their own
	// (node.Config.MetricsStoreLimit). Default 100; negative: none.
	MetricsStoreLimit int
	// HTTPAddress, if set, is where /metrics (the storenode's and the
	// gateway's, Go and process) is served, e.g. "127.0.0.1:8080" or
	// "127.0.0.1:0" (see Logbook.HTTPAddr). Off by default.
	HTTPAddress string
	// Limits apply to every request. Default wire.DefaultLimits().
	Limits wire.Limits
	// RequestTimeout bounds a request inside the storenode. Default 5s.
	RequestTimeout time.Duration
	// ReadyTimeout bounds how long Start waits for the store to get a leader.
	// Default 30s.
	ReadyTimeout time.Duration
	// GatewayAccounts are the NATS accounts the gateway lets through
	// service imports, and their stores (gateway.Config.Accounts). Empty:
	// no check by account.
	GatewayAccounts gateway.Accounts
	// Logger receives all logs (Logbook's, NATS's and dragonboat's).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.NATSHost == "" {
		c.NATSHost = "127.0.0.1"
	}
	if c.NATSPort == 0 {
		c.NATSPort = 4222
	}
	if c.NATSMaxPayload == 0 {
		c.NATSMaxPayload = 8 << 20
	}
	if c.NodeID == 0 {
		c.NodeID = 1
	}
	if c.RaftAddress == "" {
		c.RaftAddress = "127.0.0.1:7100"
	}
	if c.StoreID == "" {
		c.StoreID = DefaultStoreID
	}
	c.Limits = c.Limits.WithDefaults()
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

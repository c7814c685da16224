// Package cli declares the storenode's command-line flags (each with a
// LOGBOOK_* environment variable), shared by the storenode binary and the
// all-in-one logbook binary.
package cli

import (
	"flag"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/pkg/flagenv"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// Flags are the storenode's flags once parsed.
type Flags struct {
	DataDir        *string
	NodeID         *int
	RaftAddress    *string
	RaftListen     *string
	RaftTLSCA      *string
	RaftTLSCert    *string
	RaftTLSKey     *string
	Cluster        *string
	InitialSize    *int
	Store          *string
	ConfigPath     *string
	Stores         *string
	MaxStores      *int
	MaxReplicas    *int
	SnapEntries    *int
	SnapOverhead   *int
	MetricsStores  *int
	RequestTimeout *time.Duration
	HibernateAfter *time.Duration
	MaxRunning     *int
	Proposers      *int
	HoldVersion    *bool
	Limits         wire.Limits

	NodeIDFromOrdinal *bool // see ordinal.go
	fs                *flag.FlagSet
}

// Register declares the storenode flags on fs; defaultData is the data
// directory's default.
func Register(fs *flag.FlagSet, defaultData string) *Flags {
	f := &Flags{fs: fs}
	f.DataDir = fs.String("data", flagenv.String("LOGBOOK_DATA", defaultData), "data directory (env LOGBOOK_DATA)")
	f.NodeID = fs.Int("node-id", flagenv.Int("LOGBOOK_NODE_ID", 1), "this storenode's id, ≥ 1, unique in the cluster and never reused (env LOGBOOK_NODE_ID)")
	f.NodeIDFromOrdinal = fs.Bool("node-id-from-ordinal", envBool("LOGBOOK_NODE_ID_FROM_ORDINAL"), "take the node id from the hostname's -<ordinal> suffix plus 1, as in a Kubernetes StatefulSet; excludes -node-id (env LOGBOOK_NODE_ID_FROM_ORDINAL)")
	f.RaftAddress = fs.String("raft-addr", flagenv.String("LOGBOOK_RAFT_ADDR", "127.0.0.1:7100"), "host:port other storenodes reach this one's Raft transport at (env LOGBOOK_RAFT_ADDR)")
	f.RaftListen = fs.String("raft-listen", flagenv.String("LOGBOOK_RAFT_LISTEN", ""), "host:port to bind the Raft transport to, if not -raft-addr (e.g. 0.0.0.0:7100; env LOGBOOK_RAFT_LISTEN)")
	f.RaftTLSCA = fs.String("raft-tls-ca", flagenv.String("LOGBOOK_RAFT_TLS_CA", ""), "CA certificate (PEM) that signs every storenode's Raft certificate; with -raft-tls-cert and -raft-tls-key, Raft connections are mutually authenticated TLS 1.3 (env LOGBOOK_RAFT_TLS_CA; docs/operations.md)")
	f.RaftTLSCert = fs.String("raft-tls-cert", flagenv.String("LOGBOOK_RAFT_TLS_CERT", ""), "this storenode's Raft certificate (PEM), signed by -raft-tls-ca, for serverAuth and clientAuth, naming the host of -raft-addr (env LOGBOOK_RAFT_TLS_CERT)")
	f.RaftTLSKey = fs.String("raft-tls-key", flagenv.String("LOGBOOK_RAFT_TLS_KEY", ""), "private key (PEM) of -raft-tls-cert (env LOGBOOK_RAFT_TLS_KEY)")
	f.Cluster = fs.String("cluster", flagenv.String("LOGBOOK_CLUSTER", "logbook"), "cluster name; storenodes of another cluster on the same NATS are refused (env LOGBOOK_CLUSTER)")
	f.InitialSize = fs.Int("initial-size", flagenv.Int("LOGBOOK_INITIAL_SIZE", 1), "storenodes that form the cluster the first time; later ones join it (env LOGBOOK_INITIAL_SIZE)")
	f.Store = fs.String("store", flagenv.String("LOGBOOK_STORE", "default"), "id of the default store (env LOGBOOK_STORE)")
	f.ConfigPath = fs.String("config", flagenv.String("LOGBOOK_CONFIG", ""), "JSON file declaring stores (env LOGBOOK_CONFIG); see docs/operations.md")
	f.Stores = fs.String("stores", flagenv.String("LOGBOOK_STORES", ""), "comma-separated ids of stores to create at start-up with default settings (env LOGBOOK_STORES)")
	f.MaxStores = fs.Int("max-stores", flagenv.Int("LOGBOOK_MAX_STORES", 20_000), "most stores the cluster may hold (env LOGBOOK_MAX_STORES)")
	f.MaxReplicas = fs.Int("max-replicas", flagenv.Int("LOGBOOK_MAX_REPLICAS", 20_000), "most store replicas this storenode takes; a create placed here beyond it answers replica_limit_reached (env LOGBOOK_MAX_REPLICAS)")
	f.SnapEntries = fs.Int("store-snapshot-entries", flagenv.Int("LOGBOOK_STORE_SNAPSHOT_ENTRIES", 100_000), "Raft entries a store replica applies between two snapshots; a follower further behind than the log kept is sent a snapshot (env LOGBOOK_STORE_SNAPSHOT_ENTRIES)")
	f.SnapOverhead = fs.Int("store-compaction-overhead", flagenv.Int("LOGBOOK_STORE_COMPACTION_OVERHEAD", 0), "Raft entries a store replica keeps before its latest snapshot; 0: a fifth of -store-snapshot-entries (env LOGBOOK_STORE_COMPACTION_OVERHEAD)")
	f.MetricsStores = fs.Int("metrics-store-limit", flagenv.Int("LOGBOOK_METRICS_STORE_LIMIT", 100), "stores with metric series of their own on this node; the others share store=\"_other\"; 0: none (env LOGBOOK_METRICS_STORE_LIMIT)")
	f.HoldVersion = fs.Bool("hold-cluster-version", envBool("LOGBOOK_HOLD_CLUSTER_VERSION"), "do not raise the cluster version while this node leads the registry, even once every storenode supports a newer one: set it on every node during an upgrade you may roll back (see Upgrading in docs/operations.md; env LOGBOOK_HOLD_CLUSTER_VERSION)")
	f.RequestTimeout = fs.Duration("request-timeout", flagenv.Duration("LOGBOOK_REQUEST_TIMEOUT", 5*time.Second), "bound on each request inside the storenode, Raft round included (env LOGBOOK_REQUEST_TIMEOUT)")
	f.HibernateAfter = fs.Duration("hibernate-after", flagenv.Duration("LOGBOOK_HIBERNATE_AFTER", 5*time.Minute), "stop a store's replica here once the store has applied nothing for this long; the next request starts it again, after an election (docs/operations.md, Dormant stores); 0: never (env LOGBOOK_HIBERNATE_AFTER)")
	f.Proposers = fs.Int("proposers", flagenv.Int("LOGBOOK_PROPOSERS", 4), "Raft proposals per store in flight at once; the commands arriving meanwhile wait and go in the next entry (group commit): fewer make larger entries (env LOGBOOK_PROPOSERS)")
	f.MaxRunning = fs.Int("max-running-replicas", flagenv.Int("LOGBOOK_MAX_RUNNING_REPLICAS", 2_000), "with -hibernate-after, most store replicas running on this storenode: beyond it the longest idle ones (10 s or more) go dormant early; each running replica takes about 1 MiB (env LOGBOOK_MAX_RUNNING_REPLICAS; 0: no bound)")
	flagenv.Limits(fs, &f.Limits)
	return f
}

// Config checks the parsed flags and turns them into a storenode
// configuration (NATS, DataDir layout and Logger are the caller's).
func (f *Flags) Config() (node.Config, error) {
	if *f.MaxStores < 1 {
		return node.Config{}, fmt.Errorf("-max-stores must be at least 1")
	}
	if *f.MaxReplicas < 1 {
		return node.Config{}, fmt.Errorf("-max-replicas must be at least 1")
	}
	if *f.SnapEntries < 1 {
		return node.Config{}, fmt.Errorf("-store-snapshot-entries must be at least 1")
	}
	if *f.SnapOverhead < 0 {
		return node.Config{}, fmt.Errorf("-store-compaction-overhead must not be negative")
	}
	nodeID, err := f.nodeID()
	if err != nil {
		return node.Config{}, err
	}
	if nodeID < 1 {
		return node.Config{}, fmt.Errorf("-node-id must be at least 1")
	}
	if *f.InitialSize < 1 {
		return node.Config{}, fmt.Errorf("-initial-size must be at least 1")
	}
	if *f.HibernateAfter < 0 || (*f.HibernateAfter > 0 && *f.HibernateAfter < time.Second) {
		return node.Config{}, fmt.Errorf("-hibernate-after must be 0 (never) or at least 1s")
	}
	if *f.Proposers < 1 || *f.Proposers > 64 {
		return node.Config{}, fmt.Errorf("-proposers must be in 1..64")
	}
	if *f.MaxRunning < 0 {
		return node.Config{}, fmt.Errorf("-max-running-replicas must not be negative")
	}
	if *f.RequestTimeout < 100*time.Millisecond {
		return node.Config{}, fmt.Errorf("-request-timeout must be at least 100ms")
	}
	metricsStores := *f.MetricsStores
	if metricsStores <= 0 {
		metricsStores = -1 // none (0 is the default in node.Config)
	}
	raftTLS := node.RaftTLS{CAFile: *f.RaftTLSCA, CertFile: *f.RaftTLSCert, KeyFile: *f.RaftTLSKey}
	if err := raftTLS.Check(); err != nil {
		return node.Config{}, fmt.Errorf("-raft-tls-ca, -raft-tls-cert and -raft-tls-key go together: %w", err)
	}
	static, err := StaticStores(*f.ConfigPath, *f.Stores)
	if err != nil {
		return node.Config{}, err
	}
	return node.Config{
		NodeID: uint64(nodeID), RaftAddress: *f.RaftAddress, ListenAddress: *f.RaftListen, RaftTLS: raftTLS,
		ClusterName: *f.Cluster, InitialSize: *f.InitialSize, DataDir: *f.DataDir,
		DefaultStore: *f.Store, StaticStores: static, MaxStores: *f.MaxStores, MaxReplicas: *f.MaxReplicas,
		StoreSnapshotEntries: uint64(*f.SnapEntries), StoreCompactionOverhead: uint64(*f.SnapOverhead),
		Limits: f.Limits, RequestTimeout: *f.RequestTimeout, MetricsStoreLimit: metricsStores, HoldClusterVersion: *f.HoldVersion,
		HibernateAfter: *f.HibernateAfter, MaxRunningReplicas: *f.MaxRunning, Proposers: *f.Proposers,
	}, nil
}

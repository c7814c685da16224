package proto

import "github.com/logbookdb/logbook/pkg/wire"

// NodeHeartbeat is what every storenode publishes on Heartbeat each interval:
// who it is, the stores it hosts and leads, and the settings that must agree
// across the cluster (compared for drift).
type NodeHeartbeat struct {
	Cluster     string       `msgpack:"cluster"`
	NodeID      uint64       `msgpack:"node_id"`
	RaftAddress string       `msgpack:"raft_address"`
	DataDir     string       `msgpack:"data_dir"`
	Version     string       `msgpack:"version"`
	Started     int64        `msgpack:"started"`
	MetaLeader  bool         `msgpack:"meta_leader"`
	Leads       []string     `msgpack:"leads"` // stores this node leads
	Hosts       []string     `msgpack:"hosts"` // stores with a replica running (or dormant) here
	Settings    NodeSettings `msgpack:"settings"`
	// What each replica running here reports about itself, one entry per
	// store of Hosts, in the same order (arrays rather than a map per
	// replica: a node may host thousands): the last Raft index it applied,
	// and the leader it sees (0: none). Older storenodes send neither.
	Applied    []uint64 `msgpack:"applied,omitempty"`
	SeesLeader []uint64 `msgpack:"sees_leader,omitempty"`
	// The events each replica holds, their bytes, and the quota it
	// enforces (sm.Usage), in the order of Hosts. Older storenodes send
	// none.
	Events    []uint64 `msgpack:"events,omitempty"`
	Bytes     []uint64 `msgpack:"bytes,omitempty"`
	MaxEvents []uint64 `msgpack:"max_events,omitempty"`
	MaxBytes  []uint64 `msgpack:"max_bytes,omitempty"`
	// The versions this node supports: the highest command version its
	// store and meta state machines apply (sm.MaxCommandVersion,
	// meta.MaxCommandVersion) and its data-directory format
	// (datadir.Format). Older storenodes send none (0).
	StoreCommandVersion uint32 `msgpack:"store_command_version,omitempty"`
	MetaCommandVersion  uint32 `msgpack:"meta_command_version,omitempty"`
	DataFormat          uint32 `msgpack:"data_format,omitempty"`
	// Dormant: the stores of Hosts whose replica here is dormant (stopped
	// while idle, started by the next request); they see no leader. Older
	// storenodes send none.
	Dormant []string `msgpack:"dormant,omitempty"`
}

// NodeSettings are the settings of a node that must agree across the cluster.
type NodeSettings struct {
	DefaultStore     string        `msgpack:"default_store"`
	StaticStores     []StaticStore `msgpack:"static_stores"`
	RequestTimeoutMs int64         `msgpack:"request_timeout_ms"`
	Limits           wire.Limits   `msgpack:"limits"`
	MaxStores        int           `msgpack:"max_stores"`
	InitialSize      int           `msgpack:"initial_size"`
	// MaxReplicas is the most store replicas this node takes (its own
	// limit, not compared for drift); 0 from a build without one.
	MaxReplicas int `msgpack:"max_replicas,omitempty"`
}

// StaticStore is a store declared in a storenode's configuration (the
// storenode's Config.StaticStores); heartbeats carry them for drift.
type StaticStore struct {
	ID       string             `json:"id"`
	Settings wire.StoreSettings `json:"settings"`
}

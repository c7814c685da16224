package wire

// Store statuses.
const (
	StatusCreating = "creating" // in the registry; replicas are being started
	StatusRunning  = "running"  // every replica it should have is running
	StatusDegraded = "degraded" // running with fewer replicas than its replication factor
	StatusRemoving = "removing" // being removed; no longer served
	// StatusRestoring: created by stores.create with restore set, it
	// receives a backup (store.<store>.restore) and serves nothing else;
	// stores.list leaves it out. It becomes running when the restore
	// completes, and is removed if the restore fails or stops.
	StatusRestoring = "restoring"
)

// Lifecycle event kinds (the last token of stores.events.<store>.<kind>).
const (
	EventCreated       = "created"
	EventStatusChanged = "status_changed"
	EventRemoved       = "removed"
)

// StoreSettings are a store's own settings. Absent fields take the cluster's
// defaults at creation; the stored config always has every field set.
type StoreSettings struct {
	// ReplicationFactor is how many storenodes hold a replica: 1 up to the
	// number of storenodes. Default: 3, or the number of storenodes if smaller.
	ReplicationFactor *int64 `msgpack:"replication_factor,omitempty"`
	// RequestTimeoutMs bounds each request on the store, Raft round included.
	RequestTimeoutMs *int64 `msgpack:"request_timeout_ms,omitempty"`
	MaxEventSize     *int64 `msgpack:"max_event_size,omitempty"`
	MaxAppendEvents  *int64 `msgpack:"max_append_events,omitempty"`
	MaxReadCount     *int64 `msgpack:"max_read_count,omitempty"`
	// MaxEvents and MaxBytes are the store's quota: at most this many events
	// stored, at most this many bytes of events stored (see StoreUsage for
	// how they are counted). Absent or 0: no limit. An append that would go
	// past either is quota_exceeded.
	MaxEvents *int64 `msgpack:"max_events,omitempty"`
	MaxBytes  *int64 `msgpack:"max_bytes,omitempty"`
}

// StoreConfig is a store's effective configuration: every setting resolved.
type StoreConfig struct {
	Store             string `msgpack:"store"`
	ShardID           uint64 `msgpack:"shard_id"`
	ReplicationFactor int64  `msgpack:"replication_factor"`
	RequestTimeoutMs  int64  `msgpack:"request_timeout_ms"`
	MaxEventSize      int64  `msgpack:"max_event_size"`
	MaxAppendEvents   int64  `msgpack:"max_append_events"`
	MaxReadCount      int64  `msgpack:"max_read_count"`
	MaxEvents         int64  `msgpack:"max_events,omitempty"` // quota; absent or 0: no limit
	MaxBytes          int64  `msgpack:"max_bytes,omitempty"`  // quota; absent or 0: no limit
	// Origin says where the store came from: "default", "config" or "api".
	Origin  string `msgpack:"origin"`
	Created int64  `msgpack:"created"`
}

// StoreStatus is a store's state.
type StoreStatus struct {
	Store    string   `msgpack:"store"`
	Status   string   `msgpack:"status"`
	Leader   uint64   `msgpack:"leader,omitempty"` // node id of the Raft leader, when known
	Replicas []uint64 `msgpack:"replicas"`         // node ids placed to hold a replica
	Created  int64    `msgpack:"created"`
	Updated  int64    `msgpack:"updated"`
	// ConfigMismatch, when set, says how this node's static configuration
	// differs from the stored one (which wins).
	ConfigMismatch string `msgpack:"config_mismatch,omitempty"`
	// Usage is what the store holds against its quota, as a replica of it
	// has applied (the leader's when known); absent when no replica's
	// figures are at hand.
	Usage *StoreUsage `msgpack:"usage,omitempty"`
}

// StoreUsage is what a store holds, and its quota.
//
// Events counts every event stored, deleted streams' included: deleting a
// stream is a tombstone, its events stay stored (in $all and in backups).
// Bytes is the sum, over the same events, of each one's stream name, type,
// data, metadata and both content types in bytes, plus 32 (id, revision,
// timestamp). Neither ever goes down. Aggregate snapshots, persistent
// subscriptions and indexes are not counted.
type StoreUsage struct {
	Events    uint64 `msgpack:"events"`
	Bytes     uint64 `msgpack:"bytes"`
	MaxEvents uint64 `msgpack:"max_events"` // the quota the store enforces; 0: none
	MaxBytes  uint64 `msgpack:"max_bytes"`
}

// SetQuotaRequest changes a store's quota (an admin operation; subject
// stores.set_quota). An absent field keeps its current value; 0 removes
// that limit. The reply is the store's StoreConfig.
type SetQuotaRequest struct {
	Store     string `msgpack:"store"`
	MaxEvents *int64 `msgpack:"max_events,omitempty"`
	MaxBytes  *int64 `msgpack:"max_bytes,omitempty"`
}

// CreateStoreRequest creates a store. Subject: stores.create
type CreateStoreRequest struct {
	Store    string         `msgpack:"store"`
	Settings *StoreSettings `msgpack:"settings,omitempty"`
	// Restore creates the store to restore a backup into: it starts in
	// status restoring, invisible to clients, and becomes running once
	// store.<store>.restore completes (schemas/backup.md).
	Restore bool `msgpack:"restore,omitempty"`
}

// CreateStoreReply describes the created store. Creating a store that already
// exists with the same settings succeeds again with Existed set.
type CreateStoreReply struct {
	Config  StoreConfig `msgpack:"config"`
	Status  StoreStatus `msgpack:"status"`
	Existed bool        `msgpack:"existed,omitempty"`
}

// StoreRequest names one store: remove, status and config. Removal is
// irreversible and needs the exact id (no patterns).
type StoreRequest struct {
	Store string `msgpack:"store"`
}

// RemoveStoreReply confirms that removal started; the "removed" lifecycle
// event follows when every replica is gone.
type RemoveStoreReply struct {
	Status StoreStatus `msgpack:"status"`
}

// ListStoresRequest lists stores in id order. Subject: stores.list
type ListStoresRequest struct {
	After string `msgpack:"after,omitempty"`
	Limit *int64 `msgpack:"limit,omitempty"`
}

// ListStoresReply is one page of stores. Next is empty on the last page.
type ListStoresReply struct {
	Stores []StoreStatus `msgpack:"stores"`
	Next   string        `msgpack:"next,omitempty"`
}

// StoreEvent is published on stores.events.<store>.<kind>.
type StoreEvent struct {
	Store     string `msgpack:"store"`
	Kind      string `msgpack:"kind"`
	Status    string `msgpack:"status"`
	Previous  string `msgpack:"previous,omitempty"`
	Timestamp int64  `msgpack:"timestamp"`
}

package wire

import "github.com/logbookdb/logbook/pkg/codes"

// Cluster view and health: the replies of cluster.view and cluster.health.
// Both requests take an empty body (or an empty map). Any storenode answers,
// from its registry replica and the heartbeats it has received; fields named
// *_ms are milliseconds.

// Node health values.
const (
	NodeUp   = "up"   // heartbeat received within 3 heartbeat intervals
	NodeDown = "down" // registered, but silent
)

// Store health values.
const (
	StoreHealthy         = "ok"               // a leader, every replica up
	StoreUnderReplicated = "under_replicated" // a leader, some replica down
	StoreUnavailable     = "unavailable"      // no leader known: requests fail
)

// Health statuses.
const (
	HealthOK       = "ok"
	HealthWarning  = "warning"  // serving, but something needs attention
	HealthCritical = "critical" // some requests cannot be served
)

// ClusterNode is one storenode in the cluster view.
type ClusterNode struct {
	ID          uint64 `msgpack:"id"`
	RaftAddress string `msgpack:"raft_address"`
	Health      string `msgpack:"health"`
	LastSeenMs  int64  `msgpack:"last_seen_ms"` // since its last heartbeat; -1 if never
	MetaRole    string `msgpack:"meta_role"`    // voter, non_voting, or "" while joining
	MetaLeader  bool   `msgpack:"meta_leader"`
	Leads       int    `msgpack:"leads"`    // stores it leads
	Replicas    int    `msgpack:"replicas"` // store replicas placed on it
	DataDir     string `msgpack:"data_dir,omitempty"`
	Version     string `msgpack:"version,omitempty"`
	StartedAt   int64  `msgpack:"started_at,omitempty"` // Unix ns
	Leaving     bool   `msgpack:"leaving,omitempty"`    // being removed (cluster.remove_node)
}

// ClusterStore is one store in the cluster view.
type ClusterStore struct {
	Store      string   `msgpack:"store"`
	Shard      uint64   `msgpack:"shard"`
	Status     string   `msgpack:"status"` // the registry's: creating, running, ...
	Health     string   `msgpack:"health"` // ok, under_replicated, unavailable
	Leader     uint64   `msgpack:"leader"` // 0 when unknown
	Replicas   []uint64 `msgpack:"replicas"`
	ReplicasUp int      `msgpack:"replicas_up"`
	// Moves are replicas moving off leaving nodes: from → to (0: nowhere).
	Moves []ReplicaMove `msgpack:"moves,omitempty"`
}

// ReplicaMove is a replica moving off a node being removed.
type ReplicaMove struct {
	From uint64 `msgpack:"from"`
	To   uint64 `msgpack:"to"`
}

// DriftValue is one node's value of a setting that differs across nodes.
type DriftValue struct {
	Node  uint64 `msgpack:"node"`
	Value string `msgpack:"value"`
}

// Drift is one configuration difference between storenodes.
type Drift struct {
	// Kind: cluster_name, default_store, static_store, request_timeout,
	// limits, max_stores, initial_size.
	Kind    string       `msgpack:"kind"`
	Subject string       `msgpack:"subject,omitempty"` // e.g. the store id for static_store
	Detail  string       `msgpack:"detail"`
	Values  []DriftValue `msgpack:"values"`
}

// ClusterView is the reply of cluster.view.
type ClusterView struct {
	Cluster    string         `msgpack:"cluster"`
	UID        string         `msgpack:"uid"`
	AnsweredBy uint64         `msgpack:"answered_by"`
	MetaLeader uint64         `msgpack:"meta_leader"`
	Nodes      []ClusterNode  `msgpack:"nodes"`
	Stores     []ClusterStore `msgpack:"stores"`
	Drift      []Drift        `msgpack:"drift"`
	Time       int64          `msgpack:"time"` // Unix ns at the answering node
}

// ClusterHealth is the reply of cluster.health.
type ClusterHealth struct {
	Status     string   `msgpack:"status"` // ok, warning, critical
	Problems   []string `msgpack:"problems"`
	AnsweredBy uint64   `msgpack:"answered_by"`
	Time       int64    `msgpack:"time"`
}

// DecodeClusterRequest validates a cluster.<op> request: an empty body or
// an empty map.
func DecodeClusterRequest(data []byte, l Limits) error {
	if len(data) == 0 {
		return nil
	}
	return decodeStrict(data, l, &struct{}{})
}

// RemoveNodeRequest is the body of cluster.remove_node: take a storenode
// out of the cluster for good. Its replicas move to other nodes first.
type RemoveNodeRequest struct {
	NodeID int64 `msgpack:"node_id"` // ≥ 1
}

// RemoveNodeReply answers it: the node is leaving; the cluster view shows
// the moves and the node disappears from it once they are done.
type RemoveNodeReply struct {
	NodeID uint64 `msgpack:"node_id"`
	Status string `msgpack:"status"` // leaving
}

// DecodeRemoveNode decodes and validates a cluster.remove_node request.
func DecodeRemoveNode(data []byte, l Limits) (*RemoveNodeRequest, error) {
	return decode(data, l, func(r *RemoveNodeRequest) error {
		if r.NodeID < 1 {
			return codes.New(codes.InvalidArgument, "node_id must be at least 1")
		}
		return nil
	})
}

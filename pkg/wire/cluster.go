package wire

import (
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
)

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
	StoreHealthy         = "ok"               // a leader, every replica running
	StoreUnderReplicated = "under_replicated" // a leader, some replica not running
	StoreUnavailable     = "unavailable"      // no leader known: requests fail
	// StoreDormant: idle, with a quorum of its replicas dormant (stopped
	// until used); the next request wakes it, after an election.
	StoreDormant = "dormant"
)

// Replica states, as the replicas report them in their nodes' heartbeats.
const (
	ReplicaRunning    = "running"     // its node is up and runs it
	ReplicaNotRunning = "not_running" // its node is up but does not run it
	ReplicaNodeDown   = "node_down"   // its node is down (or never seen)
	ReplicaDormant    = "dormant"     // its node is up and stopped it while idle; a request starts it
)

// Health statuses.
const (
	HealthOK       = "ok"
	HealthWarning  = "warning"  // serving, but something needs attention
	HealthCritical = "critical" // some requests cannot be served
)

// The types below carry JSON tags equal to their MessagePack names, so that
// their JSON (GET /cluster on a storenode, lbctl --json) uses the names of
// schemas/cluster.md.

// ClusterNode is one storenode in the cluster view.
type ClusterNode struct {
	ID          uint64 `msgpack:"id" json:"id"`
	RaftAddress string `msgpack:"raft_address" json:"raft_address"`
	Health      string `msgpack:"health" json:"health"`
	LastSeenMs  int64  `msgpack:"last_seen_ms" json:"last_seen_ms"` // since its last heartbeat; -1 if never
	MetaRole    string `msgpack:"meta_role" json:"meta_role"`       // voter, non_voting, or "" when unknown
	MetaLeader  bool   `msgpack:"meta_leader" json:"meta_leader"`
	Leads       int    `msgpack:"leads" json:"leads"`       // stores it leads
	Replicas    int    `msgpack:"replicas" json:"replicas"` // store replicas placed on it
	DataDir     string `msgpack:"data_dir,omitempty" json:"data_dir,omitempty"`
	Version     string `msgpack:"version,omitempty" json:"version,omitempty"`
	// The versions the node supports, from its heartbeat (0 or absent: not
	// reported): the highest Raft command version its store and meta state
	// machines apply, and its data-directory format.
	StoreCommandVersion uint32 `msgpack:"store_command_version,omitempty" json:"store_command_version,omitempty"`
	MetaCommandVersion  uint32 `msgpack:"meta_command_version,omitempty" json:"meta_command_version,omitempty"`
	DataFormat          uint32 `msgpack:"data_format,omitempty" json:"data_format,omitempty"`
	StartedAt           int64  `msgpack:"started_at,omitempty" json:"started_at,omitempty"` // Unix ns
	Leaving             bool   `msgpack:"leaving,omitempty" json:"leaving,omitempty"`       // being removed (cluster.remove_node)
	// Joining: added to the cluster (a member of the meta shard), not
	// registered yet.
	Joining bool `msgpack:"joining,omitempty" json:"joining,omitempty"`
}

// ClusterStore is one store in the cluster view.
type ClusterStore struct {
	Store      string   `msgpack:"store" json:"store"`
	Shard      uint64   `msgpack:"shard" json:"shard"`
	Status     string   `msgpack:"status" json:"status"` // the registry's: creating, running, ...
	Health     string   `msgpack:"health" json:"health"` // ok, under_replicated, unavailable
	Leader     uint64   `msgpack:"leader" json:"leader"` // 0 when unknown
	Replicas   []uint64 `msgpack:"replicas" json:"replicas"`
	ReplicasUp int      `msgpack:"replicas_up" json:"replicas_up"` // replicas running
	// ReplicaStates reports each replica (in the order of Replicas) as it
	// reports itself.
	ReplicaStates []ReplicaState `msgpack:"replica_states" json:"replica_states"`
	// Moves are replicas moving off leaving nodes: from → to (0: nowhere).
	Moves []ReplicaMove `msgpack:"moves,omitempty" json:"moves,omitempty"`
}

// ReplicaState is one store replica as its node's heartbeat reports it.
type ReplicaState struct {
	Node    uint64 `msgpack:"node" json:"node"`
	State   string `msgpack:"state" json:"state"`                         // running, not_running, node_down
	Applied uint64 `msgpack:"applied,omitempty" json:"applied,omitempty"` // the last Raft index it applied
	Leader  uint64 `msgpack:"leader,omitempty" json:"leader,omitempty"`   // the leader it sees
}

// ReplicaMove is a replica moving off a node being removed.
type ReplicaMove struct {
	From uint64 `msgpack:"from" json:"from"`
	To   uint64 `msgpack:"to" json:"to"`
}

// DriftValue is one node's value of a setting that differs across nodes.
type DriftValue struct {
	Node  uint64 `msgpack:"node" json:"node"`
	Value string `msgpack:"value" json:"value"`
}

// Drift is one configuration difference between storenodes.
type Drift struct {
	// Kind: cluster_name, default_store, static_store, request_timeout,
	// limits, max_stores, initial_size.
	Kind    string       `msgpack:"kind" json:"kind"`
	Subject string       `msgpack:"subject,omitempty" json:"subject,omitempty"` // e.g. the store id for static_store
	Detail  string       `msgpack:"detail" json:"detail"`
	Values  []DriftValue `msgpack:"values" json:"values"`
}

// ClusterView is the reply of cluster.view.
type ClusterView struct {
	Cluster    string         `msgpack:"cluster" json:"cluster"`
	UID        string         `msgpack:"uid" json:"uid"`
	AnsweredBy uint64         `msgpack:"answered_by" json:"answered_by"`
	MetaLeader uint64         `msgpack:"meta_leader" json:"meta_leader"`
	Nodes      []ClusterNode  `msgpack:"nodes" json:"nodes"`
	Stores     []ClusterStore `msgpack:"stores" json:"stores"`
	Drift      []Drift        `msgpack:"drift" json:"drift"`
	Time       int64          `msgpack:"time" json:"time"` // Unix ns at the answering node
	// ClusterVersion is the active cluster version: the highest store and
	// registry command versions that may be used (each node's supported
	// ones are in Nodes). Absent from storenodes older than the gate.
	ClusterVersion *ClusterVersion `msgpack:"cluster_version,omitempty" json:"cluster_version,omitempty"`
}

// ClusterVersion is the active cluster version (see docs/operations.md,
// Upgrading).
type ClusterVersion struct {
	StoreCommand uint32 `msgpack:"store_command" json:"store_command"`
	MetaCommand  uint32 `msgpack:"meta_command" json:"meta_command"`
}

// ClusterHealth is the reply of cluster.health.
type ClusterHealth struct {
	Status     string   `msgpack:"status" json:"status"` // ok, warning, critical
	Problems   []string `msgpack:"problems" json:"problems"`
	AnsweredBy uint64   `msgpack:"answered_by" json:"answered_by"`
	Time       int64    `msgpack:"time" json:"time"`
}

// DecodeClusterRequest validates a cluster.<op> request: an empty body or
// an empty map.
func DecodeClusterRequest(data []byte, l Limits) error {
	if len(data) == 0 {
		return nil
	}
	return decodeStrict(data, l, &struct{}{})
}

// ClusterVersionRequest is the body of cluster.version. Without hold it
// reports the cluster version; hold true keeps the version where it is even
// once every storenode supports more (an upgrade that may be rolled back),
// hold false lets it rise again (the upgrade is finalized at the next
// heartbeat). An empty body is a report.
type ClusterVersionRequest struct {
	Hold *bool `msgpack:"hold,omitempty" json:"hold,omitempty"`
}

// ClusterVersionReply is the answer of cluster.version.
type ClusterVersionReply struct {
	// Active is the cluster version: what may be proposed.
	Active ClusterVersion `msgpack:"active" json:"active"`
	// Supported is what every registered storenode supports: what the
	// version rises to unless held. Absent while a registered node is not
	// heard (down): its build is unknown, and the version waits.
	Supported *ClusterVersion `msgpack:"supported,omitempty" json:"supported,omitempty"`
	// Held is true while cluster.version holds the version back.
	Held bool `msgpack:"held" json:"held"`
}

// DecodeClusterVersion validates a cluster.version request.
func DecodeClusterVersion(data []byte, l Limits) (*ClusterVersionRequest, error) {
	if len(data) == 0 {
		return &ClusterVersionRequest{}, nil
	}
	return decode(data, l, func(*ClusterVersionRequest) error { return nil })
}

// DecodeClusterWrite validates the request of a cluster operation served by
// the registry's leader (subjects.IsClusterWrite).
func DecodeClusterWrite(op string, data []byte, l Limits) error {
	var err error
	switch op {
	case subjects.ClusterRemoveNode:
		_, err = DecodeRemoveNode(data, l)
	case subjects.ClusterVersion:
		_, err = DecodeClusterVersion(data, l)
	default:
		err = codes.New(codes.UnknownOperation, "unknown cluster operation %q", Truncate(op))
	}
	return err
}

// RemoveNodeRequest is the body of cluster.remove_node: take a storenode
// out of the cluster for good. Its replicas move to other nodes first.
type RemoveNodeRequest struct {
	NodeID int64 `msgpack:"node_id" json:"node_id"` // ≥ 1
}

// RemoveNodeReply answers it: the node is leaving; the cluster view shows
// the moves and the node disappears from it once they are done.
type RemoveNodeReply struct {
	NodeID uint64 `msgpack:"node_id" json:"node_id"`
	Status string `msgpack:"status" json:"status"` // leaving
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

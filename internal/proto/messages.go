package proto

// RegistryAnswer is the reply on RegistryLookup, whose request body is the
// store id.
type RegistryAnswer struct {
	Exists bool   `msgpack:"exists"`
	Status string `msgpack:"status,omitempty"`
	// NoQuorum: fewer than a quorum of the store's replicas run (as the
	// answering storenode's heartbeats show), so it cannot have a leader
	// now; Running of its Replicas do. A gateway answers unavailable at once
	// rather than wait for a leader until its deadline.
	NoQuorum bool `msgpack:"no_quorum,omitempty"`
	Running  int  `msgpack:"running,omitempty"`
	Replicas int  `msgpack:"replicas,omitempty"`
}

// OwnerReply is the answer on Owner("_cluster"): which cluster a storenode
// belongs to.
type OwnerReply struct {
	UID    string `msgpack:"uid"`
	NodeID uint64 `msgpack:"node_id"`
}

// JoinRequest asks the meta leader (Meta(MetaJoin)) to add a storenode.
type JoinRequest struct {
	Cluster     string `msgpack:"cluster"`
	NodeID      uint64 `msgpack:"node_id"`
	RaftAddress string `msgpack:"raft_address"`
	// The command versions the joiner's build supports (absent: a build
	// before the version gate, the base 1): a joiner that does not cover the
	// cluster version is refused, as it would not apply what the others do.
	StoreCommandVersion uint32 `msgpack:"store_command_version,omitempty"`
	MetaCommandVersion  uint32 `msgpack:"meta_command_version,omitempty"`
}

// JoinReply answers it; Refused means the request can never succeed.
type JoinReply struct {
	OK        bool   `msgpack:"ok"`
	Refused   bool   `msgpack:"refused,omitempty"`
	Reason    string `msgpack:"reason,omitempty"`
	NonVoting bool   `msgpack:"non_voting,omitempty"`
}

// RemovedNotice tells a storenode, on Removed(cluster, node), that the
// cluster removed it for good: a member that knows it (its id is in the meta
// shard's removed set) sends it when it hears the node's heartbeat.
type RemovedNotice struct {
	Cluster string `msgpack:"cluster"`
	NodeID  uint64 `msgpack:"node_id"`
	By      uint64 `msgpack:"by"` // the member that sent it
}

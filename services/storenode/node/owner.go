package node

import "time"

// ownerReply is the answer on _LB.owner._cluster: which cluster a storenode
// belongs to. See cluster.go.
type ownerReply struct {
	UID    string `msgpack:"uid"`
	NodeID uint64 `msgpack:"node_id"`
}

// ownerCheckWait is how long a storenode listens for other clusters' answers.
const ownerCheckWait = 150 * time.Millisecond

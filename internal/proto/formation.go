package proto

import "maps"

// Formation states a storenode reports in its Hello.
const (
	StateFresh    = "fresh"    // never part of a cluster, no promise given
	StatePrepared = "prepared" // promised an initial membership, waiting for the decision
	StateMember   = "member"   // runs its meta replica
)

// Hello is a storenode's answer on Discover; the question carries the
// asker's own Hello, so that every node also learns who is asking.
type Hello struct {
	Cluster     string `msgpack:"cluster"`
	NodeID      uint64 `msgpack:"node_id"`
	RaftAddress string `msgpack:"raft_address"`
	InitialSize int    `msgpack:"initial_size"`
	State       string `msgpack:"state"`
}

// BootMsg is a formation handshake message on Boot(cluster, node). The
// handshake carries maps keyed by node id, so it is encoded with plain
// msgpack rather than the client wire codec.
type BootMsg struct {
	Op   string    `msgpack:"op"` // prepare, commit, abort, status
	Lock *BootLock `msgpack:"lock,omitempty"`
}

// BootReply answers a BootMsg.
type BootReply struct {
	OK     bool      `msgpack:"ok"`
	Lock   *BootLock `msgpack:"lock,omitempty"` // the responder's promise, if any
	Reason string    `msgpack:"reason,omitempty"`
}

// BootLock is a fresh node's promise during cluster formation: it will start
// the meta shard with exactly these members, as decided by this coordinator,
// and with no other. The node writes it to disk (as JSON) before giving the
// promise; Committed records the coordinator's decision.
type BootLock struct {
	Coordinator uint64            `json:"coordinator" msgpack:"coordinator"`
	Members     map[uint64]string `json:"members" msgpack:"members"` // node id -> raft address
	Committed   bool              `json:"committed" msgpack:"committed"`
}

// SameAs reports whether two promises name the same coordinator and members
// (whether decided or not); a nil promise is the same as none.
func (l *BootLock) SameAs(o *BootLock) bool {
	return l != nil && o != nil && l.Coordinator == o.Coordinator && maps.Equal(l.Members, o.Members)
}

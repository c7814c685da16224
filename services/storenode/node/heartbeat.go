package node

import (
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/version"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// Every storenode publishes a heartbeat on _LB.heartbeat each
// HeartbeatInterval and keeps the latest one of every other node. The
// heartbeats are what the cluster view reports as live state (health,
// leaders) and what drift detection compares (each node's own settings).

// Version is reported in heartbeats and the cluster view.
var Version = version.Version

// nodeSettings are the settings of a node that must agree across the cluster.
type nodeSettings struct {
	DefaultStore     string        `msgpack:"default_store"`
	StaticStores     []StaticStore `msgpack:"static_stores"`
	RequestTimeoutMs int64         `msgpack:"request_timeout_ms"`
	Limits           wire.Limits   `msgpack:"limits"`
	MaxStores        int           `msgpack:"max_stores"`
	InitialSize      int           `msgpack:"initial_size"`
}

type heartbeat struct {
	Cluster     string       `msgpack:"cluster"`
	NodeID      uint64       `msgpack:"node_id"`
	RaftAddress string       `msgpack:"raft_address"`
	DataDir     string       `msgpack:"data_dir"`
	Version     string       `msgpack:"version"`
	Started     int64        `msgpack:"started"`
	MetaLeader  bool         `msgpack:"meta_leader"`
	Leads       []string     `msgpack:"leads"` // stores this node leads
	Hosts       []string     `msgpack:"hosts"` // stores with a replica running here
	Settings    nodeSettings `msgpack:"settings"`
}

type peer struct {
	hb       heartbeat
	received time.Time
}

func (n *Node) settings() nodeSettings {
	return nodeSettings{
		DefaultStore: n.cfg.DefaultStore, StaticStores: n.cfg.StaticStores,
		RequestTimeoutMs: n.cfg.RequestTimeout.Milliseconds(), Limits: n.cfg.Limits,
		MaxStores: n.cfg.MaxStores, InitialSize: n.cfg.InitialSize,
	}
}

// myHeartbeat describes this node now.
func (n *Node) myHeartbeat() heartbeat {
	hb := heartbeat{
		Cluster: n.cfg.ClusterName, NodeID: n.cfg.NodeID, RaftAddress: n.cfg.RaftAddress,
		DataDir: n.cfg.DataDir, Version: Version, Started: n.started.UnixNano(), Settings: n.settings(),
		Leads: []string{},
	}
	if n.host.Leads(meta.ShardID) {
		hb.MetaLeader = true
	}
	for _, r := range n.replicas.List() {
		hb.Hosts = append(hb.Hosts, r.Spec().ID)
		if n.host.Leads(r.Spec().ShardID) {
			hb.Leads = append(hb.Leads, r.Spec().ID)
		}
	}
	return hb
}

// heartbeatLoop publishes this node's heartbeat and, from its subscription,
// records everyone else's.
func (n *Node) heartbeatLoop() {
	defer n.loops.Done()
	sub, err := n.cfg.NATS.Subscribe(proto.Heartbeat, n.onHeartbeat)
	if err != nil {
		n.cfg.Logger.Error("cannot follow heartbeats", "err", err)
	} else {
		n.mu.Lock()
		n.heartbeatSub = sub
		n.mu.Unlock()
	}
	tick := time.NewTicker(n.cfg.HeartbeatInterval)
	defer tick.Stop()
	for beats := 1; ; beats++ {
		n.mu.Lock()
		started := n.metaStarted
		n.mu.Unlock()
		if started { // fresh nodes are not part of any cluster view yet
			if b, err := wire.Marshal(n.myHeartbeat()); err == nil {
				n.cfg.NATS.Publish(proto.Heartbeat, b)
			}
		}
		select {
		case <-n.followCtx.Done():
			return
		case <-tick.C:
		}
		if beats%balanceEvery == 0 {
			n.balanceLeaders()
		}
	}
}

func (n *Node) onHeartbeat(m *nats.Msg) {
	var hb heartbeat
	if wire.UnmarshalReply(m.Data, &hb) != nil || hb.NodeID == 0 {
		return
	}
	if hb.Cluster != n.cfg.ClusterName {
		n.noteForeign(hello{Cluster: hb.Cluster, NodeID: hb.NodeID, RaftAddress: hb.RaftAddress})
		return
	}
	n.mu.Lock()
	if n.peers == nil {
		n.peers = map[uint64]peer{}
	}
	n.peers[hb.NodeID] = peer{hb: hb, received: time.Now()}
	n.mu.Unlock()
}

// peerTable returns the latest heartbeats, this node's own included.
func (n *Node) peerTable() map[uint64]peer {
	self := n.myHeartbeat()
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[uint64]peer, len(n.peers)+1)
	for id, p := range n.peers {
		out[id] = p
	}
	out[n.cfg.NodeID] = peer{hb: self, received: time.Now()}
	return out
}

// peerUp reports whether a heartbeat is recent enough to count the node up.
func (n *Node) peerUp(p peer, now time.Time) bool {
	return now.Sub(p.received) <= 3*n.cfg.HeartbeatInterval+500*time.Millisecond
}

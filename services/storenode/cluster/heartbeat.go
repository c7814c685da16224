package cluster

import (
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Every storenode publishes a heartbeat on _LB.heartbeat each
// HeartbeatInterval and keeps the latest one of every other node. The
// heartbeats are what the cluster view reports as live state (health,
// leaders, and each replica's own report: running, applied index, the
// leader it sees) and what drift detection compares (each node's own
// settings). A removed node's heartbeats are answered, not kept
// (removed.go).

type peer struct {
	hb       proto.NodeHeartbeat
	received time.Time
	hosts    map[string]int  // store -> its index in hb.Hosts
	dormant  map[string]bool // stores of hb.Hosts dormant there
}

func newPeer(hb proto.NodeHeartbeat, received time.Time) peer {
	hosts := make(map[string]int, len(hb.Hosts))
	for i, s := range hb.Hosts {
		hosts[s] = i
	}
	var dormant map[string]bool
	if len(hb.Dormant) > 0 {
		dormant = make(map[string]bool, len(hb.Dormant))
		for _, s := range hb.Dormant {
			dormant[s] = true
		}
	}
	return peer{hb: hb, received: received, hosts: hosts, dormant: dormant}
}

// hosting reports whether the node runs a replica of store.
func (p peer) hosting(store string) bool {
	_, ok := p.hosts[store]
	return ok
}

// runs reports whether the node runs a replica of store and, if it said
// so, the replica's applied index and the leader it sees.
func (p peer) runs(store string) (ok bool, applied, leader uint64) {
	i, ok := p.hosts[store]
	if !ok {
		return false, 0, 0
	}
	if len(p.hb.Applied) == len(p.hb.Hosts) && len(p.hb.SeesLeader) == len(p.hb.Hosts) {
		applied, leader = p.hb.Applied[i], p.hb.SeesLeader[i]
	}
	return true, applied, leader
}

// heartbeat describes this node now.
func (c *Cluster) heartbeat() proto.NodeHeartbeat {
	hb := proto.NodeHeartbeat{
		Cluster: c.cfg.ClusterName, NodeID: c.cfg.NodeID, RaftAddress: c.cfg.RaftAddress,
		DataDir: c.cfg.DataDir, Version: c.cfg.Version, Started: c.started.UnixNano(), Settings: c.cfg.Settings,
		Leads:               []string{},
		StoreCommandVersion: c.cfg.Versions.StoreCommand, MetaCommandVersion: c.cfg.Versions.MetaCommand,
		DataFormat: c.cfg.Versions.DataFormat,
	}
	if c.cfg.Raft.Leads(meta.ShardID) {
		hb.MetaLeader = true
	}
	for _, r := range c.cfg.Replicas.List() {
		leader, ok := c.cfg.Raft.Leader(r.ShardID)
		if !ok {
			leader = 0
		}
		if leader == c.cfg.NodeID {
			hb.Leads = append(hb.Leads, r.ID)
		}
		c.host(&hb, r.ID, leader)
	}
	// Dormant replicas are hosted too (a request starts them), with the
	// state they stopped at and no leader.
	for _, id := range c.cfg.Replicas.Dormant() {
		hb.Dormant = append(hb.Dormant, id)
		c.host(&hb, id, 0)
	}
	return hb
}

// host adds a replica of store hosted here to hb: its applied index, the
// leader it sees and its usage, in the order of Hosts.
func (c *Cluster) host(hb *proto.NodeHeartbeat, store string, leader uint64) {
	hb.Hosts = append(hb.Hosts, store)
	hb.Applied = append(hb.Applied, c.cfg.Replicas.Applied(store))
	hb.SeesLeader = append(hb.SeesLeader, leader)
	u, _ := c.cfg.Replicas.LocalUsage(store)
	hb.Events = append(hb.Events, u.Events)
	hb.Bytes = append(hb.Bytes, u.Bytes)
	hb.MaxEvents = append(hb.MaxEvents, u.Quota.MaxEvents)
	hb.MaxBytes = append(hb.MaxBytes, u.Quota.MaxBytes)
}

// beat publishes this node's heartbeat (once it is a member: fresh nodes
// are not part of any cluster view yet); every balanceEvery beats it runs
// the balancer first.
func (c *Cluster) beat() bool {
	c.noteMembers(time.Now())
	c.wakeOrphans(time.Now())
	c.wakeBehind(time.Now())
	if c.beats > 0 && c.beats%balanceEvery == 0 {
		c.balanceLeaders()
	}
	c.beats++
	c.refreshRemoved()
	if c.cfg.Membership.Member() {
		c.checkVersion()
	}
	if c.cfg.Membership.Member() {
		if b, err := wire.Marshal(c.heartbeat()); err == nil {
			c.publish(proto.Heartbeat, b)
		}
	}
	return true
}

func (c *Cluster) onHeartbeat(m *nats.Msg) {
	var hb proto.NodeHeartbeat
	if wire.UnmarshalReply(m.Data, &hb) != nil || hb.NodeID == 0 {
		return
	}
	if hb.Cluster != c.cfg.ClusterName {
		c.cfg.Foreign.Note(hb.Cluster, hb.NodeID, hb.RaftAddress)
		return
	}
	c.mu.Lock()
	removed := c.removed[hb.NodeID]
	if !removed {
		c.peers[hb.NodeID] = newPeer(hb, time.Now())
	}
	c.mu.Unlock()
	if removed {
		c.tellRemoved(hb.NodeID) // it is no peer: tell it to stop
	}
}

// peerTable returns the latest heartbeats, this node's own included.
func (c *Cluster) peerTable() map[uint64]peer {
	self := c.heartbeat()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint64]peer, len(c.peers)+1)
	for id, p := range c.peers {
		out[id] = p
	}
	out[c.cfg.NodeID] = newPeer(self, time.Now())
	return out
}

// peerUp reports whether a heartbeat is recent enough to count the node up.
func (c *Cluster) peerUp(p peer, now time.Time) bool {
	return now.Sub(p.received) <= c.downAfter()
}

// downAfter is how long a node may stay silent and still count as up.
func (c *Cluster) downAfter() time.Duration {
	return 3*c.cfg.HeartbeatInterval + 500*time.Millisecond
}

// PeerUsage returns the usage and quota of a store from the latest
// heartbeats of the other live nodes, by the replica that applied the
// most (the leader's, or one about as far); ok is false when no other live
// node reported a replica of it.
func (c *Cluster) PeerUsage(store string) (u sm.Usage, applied uint64, ok bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range c.peers {
		hb := &p.hb
		n := len(hb.Hosts)
		if id == c.cfg.NodeID || !c.peerUp(p, now) || len(hb.Applied) != n || len(hb.Events) != n || len(hb.Bytes) != n ||
			len(hb.MaxEvents) != n || len(hb.MaxBytes) != n {
			continue
		}
		i, hosts := p.hosts[store]
		if !hosts {
			continue
		}
		if a := hb.Applied[i]; !ok || a > applied {
			u = sm.Usage{Events: hb.Events[i], Bytes: hb.Bytes[i], Quota: sm.Quota{MaxEvents: hb.MaxEvents[i], MaxBytes: hb.MaxBytes[i]}}
			applied, ok = a, true
		}
	}
	return u, applied, ok
}

// PeerApplied returns, by store, the applied index each other live node
// reported for its replica in its latest heartbeat (at most a heartbeat
// interval old): what the metrics compare with this node's own to show
// how far followers trail.
func (c *Cluster) PeerApplied() map[string]map[uint64]uint64 {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[uint64]uint64{}
	for id, p := range c.peers {
		if id == c.cfg.NodeID || !c.peerUp(p, now) || len(p.hb.Applied) != len(p.hb.Hosts) {
			continue
		}
		for i, store := range p.hb.Hosts {
			if out[store] == nil {
				out[store] = map[uint64]uint64{}
			}
			out[store][id] = p.hb.Applied[i]
		}
	}
	return out
}

// MaxReplicas returns the store replica limit node reported in its latest
// heartbeat (0: not heard from, or a build without one).
func (c *Cluster) MaxReplicas(node uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peers[node].hb.Settings.MaxReplicas
}

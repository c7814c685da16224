package cluster

import (
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// Every storenode publishes a heartbeat on _LB.heartbeat each
// HeartbeatInterval and keeps the latest one of every other node. The
// heartbeats are what the cluster view reports as live state (health,
// leaders) and what drift detection compares (each node's own settings).

type peer struct {
	hb       proto.NodeHeartbeat
	received time.Time
}

// heartbeat describes this node now.
func (c *Cluster) heartbeat() proto.NodeHeartbeat {
	hb := proto.NodeHeartbeat{
		Cluster: c.cfg.ClusterName, NodeID: c.cfg.NodeID, RaftAddress: c.cfg.RaftAddress,
		DataDir: c.cfg.DataDir, Version: c.cfg.Version, Started: c.started.UnixNano(), Settings: c.cfg.Settings,
		Leads: []string{},
	}
	if c.cfg.Raft.Leads(meta.ShardID) {
		hb.MetaLeader = true
	}
	for _, r := range c.cfg.Replicas.List() {
		hb.Hosts = append(hb.Hosts, r.ID)
		if c.cfg.Raft.Leads(r.ShardID) {
			hb.Leads = append(hb.Leads, r.ID)
		}
	}
	return hb
}

// heartbeatLoop publishes this node's heartbeat and, from its subscription,
// records everyone else's. Every balanceEvery beats it runs the balancer.
func (c *Cluster) heartbeatLoop() {
	defer c.loops.Done()
	sub, err := c.cfg.NATS.Subscribe(proto.Heartbeat, c.onHeartbeat)
	if err != nil {
		c.cfg.Logger.Error("cannot follow heartbeats", "err", err)
	} else {
		c.mu.Lock()
		c.sub = sub
		c.mu.Unlock()
	}
	tick := time.NewTicker(c.cfg.HeartbeatInterval)
	defer tick.Stop()
	for beats := 1; ; beats++ {
		if c.cfg.Membership.Member() { // fresh nodes are not part of any cluster view yet
			if b, err := wire.Marshal(c.heartbeat()); err == nil {
				c.cfg.NATS.Publish(proto.Heartbeat, b)
			}
		}
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		if beats%balanceEvery == 0 {
			c.balanceLeaders()
		}
	}
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
	c.peers[hb.NodeID] = peer{hb: hb, received: time.Now()}
	c.mu.Unlock()
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
	out[c.cfg.NodeID] = peer{hb: self, received: time.Now()}
	return out
}

// peerUp reports whether a heartbeat is recent enough to count the node up.
func (c *Cluster) peerUp(p peer, now time.Time) bool {
	return now.Sub(p.received) <= 3*c.cfg.HeartbeatInterval+500*time.Millisecond
}

package node

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// Cluster formation over NATS (see DESIGN.md, "Forming a cluster").
//
// A storenode that has never been part of a cluster (no meta replica on
// disk) asks every storenode on _LB.discover who it is. If a member of its
// cluster answers, it asks the meta leader to add it and joins. Otherwise it
// waits until it sees InitialSize fresh nodes of its cluster. The fresh node
// with the lowest id then coordinates a two-phase handshake: it proposes the
// InitialSize lowest ids as the initial members; each member writes the
// proposal to disk before accepting it and never accepts another; only when
// all have accepted does the coordinator record the decision and tell them to
// start. Two different initial memberships can therefore never both start,
// whatever the timing; a refused proposal is withdrawn and tried again.

// Formation states a storenode reports in its hello.
const (
	stateFresh    = "fresh"    // never part of a cluster, no promise given
	statePrepared = "prepared" // promised an initial membership, waiting for the decision
	stateMember   = "member"   // runs its meta replica
)

// hello is a storenode's answer on _LB.discover; the question carries the
// asker's own hello, so that every node also learns who is asking.
type hello struct {
	Cluster     string `msgpack:"cluster"`
	NodeID      uint64 `msgpack:"node_id"`
	RaftAddress string `msgpack:"raft_address"`
	InitialSize int    `msgpack:"initial_size"`
	State       string `msgpack:"state"`
}

// bootMsg is a formation handshake message on _LB.boot.<cluster>.<node>.
type bootMsg struct {
	Op   string    `msgpack:"op"` // prepare, commit, abort, status
	Lock *bootLock `msgpack:"lock,omitempty"`
}

type bootReply struct {
	OK     bool      `msgpack:"ok"`
	Lock   *bootLock `msgpack:"lock,omitempty"` // the responder's promise, if any
	Reason string    `msgpack:"reason,omitempty"`
}

const (
	discoverWait  = 100 * time.Millisecond // how long answers are collected
	formRound     = 150 * time.Millisecond
	bootReqWait   = time.Second
	waitLogPeriod = 10 * time.Second
)

func (n *Node) myHello() hello {
	n.mu.Lock()
	defer n.mu.Unlock()
	state := stateFresh
	switch {
	case n.metaStarted:
		state = stateMember
	case n.lock != nil:
		state = statePrepared
	}
	return hello{Cluster: n.cfg.ClusterName, NodeID: n.cfg.NodeID, RaftAddress: n.cfg.RaftAddress,
		InitialSize: n.cfg.InitialSize, State: state}
}

// serveDiscovery answers _LB.discover and this node's formation subject.
func (n *Node) serveDiscovery() error {
	var err error
	n.discoverSub, err = n.cfg.NATS.Subscribe(proto.Discover, func(m *nats.Msg) {
		var asker hello
		if wire.UnmarshalReply(m.Data, &asker) == nil && asker.NodeID != 0 && asker.Cluster != n.cfg.ClusterName {
			n.noteForeign(asker)
		}
		if b, err := wire.Marshal(n.myHello()); err == nil && m.Reply != "" {
			m.Respond(b)
		}
	})
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	n.bootSub, err = n.cfg.NATS.Subscribe(proto.Boot(n.cfg.ClusterName, n.cfg.NodeID), n.onBoot)
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	return nil
}

// onBoot handles the formation handshake addressed to this node.
func (n *Node) onBoot(m *nats.Msg) {
	var req bootMsg
	reply := bootReply{}
	if err := msgpack.Unmarshal(m.Data, &req); err != nil {
		reply.Reason = "malformed: " + err.Error()
	} else {
		reply = n.handleBoot(&req)
	}
	if b, err := msgpack.Marshal(reply); err == nil {
		m.Respond(b)
	}
}

func (n *Node) handleBoot(req *bootMsg) bootReply {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	n.mu.Lock()
	cur, started := n.lock, n.metaStarted
	n.mu.Unlock()
	switch req.Op {
	case "status":
		return bootReply{OK: true, Lock: cur}
	case "prepare":
		if req.Lock == nil || req.Lock.Members[n.cfg.NodeID] != n.cfg.RaftAddress {
			return bootReply{Reason: "the proposal does not name this node at its raft address"}
		}
		if started {
			return bootReply{Lock: cur, Reason: "already a member of a cluster"}
		}
		if cur != nil && !cur.sameAs(req.Lock) {
			return bootReply{Lock: cur, Reason: "promised another initial membership"}
		}
		if cur == nil {
			l := *req.Lock
			l.Committed = false
			if err := n.setLock(&l); err != nil {
				return bootReply{Reason: err.Error()}
			}
		}
		return bootReply{OK: true}
	case "commit":
		if !cur.sameAs(req.Lock) {
			return bootReply{Lock: cur, Reason: "no such promise"}
		}
		if err := n.commitLock(cur); err != nil {
			return bootReply{Reason: err.Error()}
		}
		return bootReply{OK: true}
	case "abort":
		if cur.sameAs(req.Lock) && !cur.Committed && !started {
			if err := n.setLock(nil); err != nil {
				return bootReply{Reason: err.Error()}
			}
		}
		return bootReply{OK: true}
	}
	return bootReply{Reason: "unknown operation " + req.Op}
}

// setLock records (or clears) the promise, on disk first. Under bootMu.
func (n *Node) setLock(l *bootLock) error {
	if err := n.saveBootLock(l); err != nil {
		return err
	}
	n.mu.Lock()
	n.lock = l
	n.mu.Unlock()
	return nil
}

// commitLock records the decision and starts the meta replica with the
// initial members. Under bootMu.
func (n *Node) commitLock(l *bootLock) error {
	if !l.Committed {
		c := *l
		c.Committed = true
		if err := n.setLock(&c); err != nil {
			return err
		}
		l = &c
	}
	return n.startMetaReplica(l.Members, false)
}

// discover asks every storenode who it is and collects the answers.
func (n *Node) discover(ctx context.Context) ([]hello, error) {
	inbox := nats.NewInbox()
	sub, err := n.cfg.NATS.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("storenode: discover: %w", err)
	}
	defer sub.Unsubscribe()
	b, err := wire.Marshal(n.myHello())
	if err != nil {
		return nil, err
	}
	if err := n.cfg.NATS.PublishRequest(proto.Discover, inbox, b); err != nil {
		return nil, fmt.Errorf("storenode: discover: %w", err)
	}
	var out []hello
	deadline := time.Now().Add(discoverWait)
	for {
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			return out, nil
		}
		m, err := sub.NextMsg(wait)
		if err != nil {
			return out, nil
		}
		var h hello
		if wire.UnmarshalReply(m.Data, &h) != nil || h.NodeID == 0 {
			continue
		}
		if h.NodeID == n.cfg.NodeID && h.RaftAddress == n.cfg.RaftAddress && h.Cluster == n.cfg.ClusterName {
			continue // our own answer
		}
		out = append(out, h)
	}
}

func (n *Node) bootRequest(ctx context.Context, node uint64, msg bootMsg) (*bootReply, error) {
	// The handshake is internal and carries maps keyed by node id, so it
	// uses plain msgpack rather than the client wire codec.
	b, err := msgpack.Marshal(msg)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, bootReqWait)
	defer cancel()
	m, err := n.cfg.NATS.RequestWithContext(rctx, proto.Boot(n.cfg.ClusterName, node), b)
	if err != nil {
		return nil, err
	}
	var r bootReply
	if err := msgpack.Unmarshal(m.Data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// formOrJoin runs until this node's meta replica is started: it forms the
// cluster with the other fresh nodes, or joins the existing one.
func (n *Node) formOrJoin() {
	defer n.loops.Done()
	var lastView string
	stable := 0
	lastLog := time.Time{}
	tick := time.NewTicker(formRound)
	defer tick.Stop()
	for {
		n.mu.Lock()
		started := n.metaStarted
		n.mu.Unlock()
		if started {
			return
		}
		hellos, err := n.discover(n.followCtx)
		if n.followCtx.Err() != nil {
			return
		}
		if err != nil {
			n.cfg.Logger.Warn("cluster discovery", "err", err)
		} else if err := n.formStep(hellos, &lastView, &stable, &lastLog); err != nil {
			n.setFatal(err)
			return
		}
		select {
		case <-n.followCtx.Done():
			return
		case <-tick.C:
		}
	}
}

func (n *Node) setFatal(err error) {
	n.mu.Lock()
	if n.fatal == nil {
		n.fatal = err
	}
	n.mu.Unlock()
	n.cfg.Logger.Error("refusing to start", "err", err)
}

// formStep is one round of formation; it returns an error only for a
// configuration that can never work (then the node refuses to start).
func (n *Node) formStep(hellos []hello, lastView *string, stable *int, lastLog *time.Time) error {
	me := n.cfg.NodeID
	var members []hello
	fresh := map[uint64]string{me: n.cfg.RaftAddress}
	for _, h := range hellos {
		if h.Cluster != n.cfg.ClusterName {
			return fmt.Errorf("storenode: node %d at %s belongs to cluster %q, and this node to %q: one NATS server carries one Logbook cluster; use the same -cluster name or another NATS",
				h.NodeID, h.RaftAddress, h.Cluster, n.cfg.ClusterName)
		}
		if h.NodeID == me {
			return fmt.Errorf("storenode: node id %d is already used by the storenode at %s; every storenode needs its own id", me, h.RaftAddress)
		}
		if h.State == stateMember {
			members = append(members, h)
			continue
		}
		fresh[h.NodeID] = h.RaftAddress
	}
	n.mu.Lock()
	lock := n.lock
	n.mu.Unlock()
	if lock != nil {
		return n.settleLock(lock)
	}
	if len(members) > 0 {
		if err := n.joinExisting(); err != nil {
			if isFatalJoin(err) {
				return err
			}
			n.cfg.Logger.Warn("cannot join the cluster yet", "err", err)
		}
		return nil
	}
	ids := slices.Sorted(maps.Keys(fresh))
	if len(ids) < n.cfg.InitialSize {
		if time.Since(*lastLog) > waitLogPeriod {
			n.cfg.Logger.Info("waiting for storenodes to form the cluster", "cluster", n.cfg.ClusterName, "seen", len(ids), "initial_size", n.cfg.InitialSize)
			*lastLog = time.Now()
		}
		*stable = 0
		return nil
	}
	view := fmt.Sprint(ids)
	if view == *lastView {
		*stable++
	} else {
		*lastView, *stable = view, 0
	}
	// The view must stay the same for a round (two with peers) before the
	// lowest id proposes, so that nodes starting together see each other.
	settle := 1
	if n.cfg.InitialSize > 1 {
		settle = 2
	}
	if ids[0] != me || *stable < settle {
		return nil // the lowest id coordinates, once the view has settled
	}
	chosen := map[uint64]string{}
	for _, id := range ids[:n.cfg.InitialSize] {
		chosen[id] = fresh[id]
	}
	return n.coordinate(&bootLock{Coordinator: me, Members: chosen})
}

// coordinate runs the handshake for a proposed initial membership.
func (n *Node) coordinate(l *bootLock) error {
	if r := n.handleBoot(&bootMsg{Op: "prepare", Lock: l}); !r.OK {
		return nil // promised elsewhere meanwhile; settleLock resolves it
	}
	others := slices.Sorted(maps.Keys(l.Members))
	accepted := []uint64{}
	ok := true
	for _, id := range others {
		if id == n.cfg.NodeID {
			continue
		}
		r, err := n.bootRequest(n.followCtx, id, bootMsg{Op: "prepare", Lock: l})
		if err != nil || !r.OK {
			reason := "no answer"
			if err == nil {
				reason = r.Reason
			}
			n.cfg.Logger.Info("initial membership not accepted; trying again", "node", id, "reason", reason)
			ok = false
			break
		}
		accepted = append(accepted, id)
	}
	if !ok {
		for _, id := range accepted {
			n.bootRequest(n.followCtx, id, bootMsg{Op: "abort", Lock: l})
		}
		n.handleBoot(&bootMsg{Op: "abort", Lock: l})
		return nil
	}
	// Decided: from here on the membership is final.
	n.bootMu.Lock()
	err := n.commitLock(l)
	n.bootMu.Unlock()
	if err != nil {
		return err
	}
	n.cfg.Logger.Info("formed the cluster", "cluster", n.cfg.ClusterName, "members", describeMembers(l.Members))
	for _, id := range others {
		if id != n.cfg.NodeID {
			// Best effort: a member that misses it asks for the decision.
			n.bootRequest(n.followCtx, id, bootMsg{Op: "commit", Lock: l})
		}
	}
	return nil
}

// settleLock moves a node holding a promise towards a decision: committed
// promises start the meta replica; otherwise the coordinator is asked.
func (n *Node) settleLock(l *bootLock) error {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if l.Committed {
		return n.commitLock(l)
	}
	if l.Coordinator == n.cfg.NodeID {
		// This node coordinated and stopped before deciding: nothing was
		// decided, so withdrawing is safe; members are told on their next ask.
		return n.setLock(nil)
	}
	n.bootMu.Unlock()
	r, err := n.bootRequest(n.followCtx, l.Coordinator, bootMsg{Op: "status"})
	n.bootMu.Lock()
	if err != nil {
		return nil // the coordinator is away; the promise holds until it answers
	}
	n.mu.Lock()
	cur := n.lock
	n.mu.Unlock()
	if !cur.sameAs(l) || cur.Committed {
		return nil // changed meanwhile
	}
	switch {
	case r.Lock.sameAs(l) && r.Lock.Committed:
		return n.commitLock(l)
	case r.Lock.sameAs(l):
		return nil // still deciding
	}
	return n.setLock(nil) // the coordinator withdrew it
}

func describeMembers(m map[uint64]string) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d=%s", id, m[id]))
	}
	return strings.Join(parts, ",")
}

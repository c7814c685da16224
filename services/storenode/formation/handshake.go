package formation

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// The two-phase formation handshake on _LB.boot.<cluster>.<node> (see
// DESIGN.md): prepare, then commit or abort; status asks for the decision.

// onBoot handles the formation handshake addressed to this node.
func (f *Formation) onBoot(m *nats.Msg) {
	var req proto.BootMsg
	reply := proto.BootReply{}
	if err := msgpack.Unmarshal(m.Data, &req); err != nil {
		reply.Reason = "malformed: " + err.Error()
	} else {
		reply = f.handleBoot(&req)
	}
	if b, err := msgpack.Marshal(reply); err == nil {
		m.Respond(b)
	}
}

func (f *Formation) handleBoot(req *proto.BootMsg) proto.BootReply {
	f.bootMu.Lock()
	defer f.bootMu.Unlock()
	f.mu.Lock()
	cur, started := f.lock, f.metaStarted
	f.mu.Unlock()
	switch req.Op {
	case "status":
		return proto.BootReply{OK: true, Lock: cur}
	case "prepare":
		if req.Lock == nil || req.Lock.Members[f.cfg.NodeID] != f.cfg.RaftAddress {
			return proto.BootReply{Reason: "the proposal does not name this node at its raft address"}
		}
		if started {
			return proto.BootReply{Lock: cur, Reason: "already a member of a cluster"}
		}
		if cur != nil && !cur.SameAs(req.Lock) {
			return proto.BootReply{Lock: cur, Reason: "promised another initial membership"}
		}
		if cur == nil {
			l := *req.Lock
			l.Committed = false
			if err := f.setLock(&l); err != nil {
				return proto.BootReply{Reason: err.Error()}
			}
		}
		return proto.BootReply{OK: true}
	case "commit":
		if !cur.SameAs(req.Lock) {
			return proto.BootReply{Lock: cur, Reason: "no such promise"}
		}
		if err := f.commitLock(cur); err != nil {
			return proto.BootReply{Reason: err.Error()}
		}
		return proto.BootReply{OK: true}
	case "abort":
		if cur.SameAs(req.Lock) && !cur.Committed && !started {
			if err := f.setLock(nil); err != nil {
				return proto.BootReply{Reason: err.Error()}
			}
		}
		return proto.BootReply{OK: true}
	}
	return proto.BootReply{Reason: "unknown operation " + req.Op}
}

// setLock records (or clears) the promise, on disk first. Under bootMu.
func (f *Formation) setLock(l *proto.BootLock) error {
	if err := f.saveBootLock(l); err != nil {
		return err
	}
	f.mu.Lock()
	f.lock = l
	f.mu.Unlock()
	return nil
}

// commitLock records the decision and starts the meta replica with the
// initial members. Under bootMu.
func (f *Formation) commitLock(l *proto.BootLock) error {
	if !l.Committed {
		c := *l
		c.Committed = true
		if err := f.setLock(&c); err != nil {
			return err
		}
		l = &c
	}
	return f.startMetaReplica(l.Members, false)
}

func (f *Formation) bootRequest(ctx context.Context, node uint64, msg proto.BootMsg) (*proto.BootReply, error) {
	b, err := msgpack.Marshal(msg)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, bootReqWait)
	defer cancel()
	m, err := f.cfg.NATS.RequestWithContext(rctx, proto.Boot(f.cfg.ClusterName, node), b)
	if err != nil {
		return nil, err
	}
	var r proto.BootReply
	if err := msgpack.Unmarshal(m.Data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// coordinate runs the handshake for a proposed initial membership.
func (f *Formation) coordinate(l *proto.BootLock) error {
	if r := f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: l}); !r.OK {
		return nil // promised elsewhere meanwhile; settleLock resolves it
	}
	others := slices.Sorted(maps.Keys(l.Members))
	accepted := []uint64{}
	ok := true
	for _, id := range others {
		if id == f.cfg.NodeID {
			continue
		}
		r, err := f.bootRequest(f.ctx, id, proto.BootMsg{Op: "prepare", Lock: l})
		if err != nil || !r.OK {
			reason := "no answer"
			if err == nil {
				reason = r.Reason
			}
			f.cfg.Logger.Info("initial membership not accepted; trying again", "node", id, "reason", reason)
			ok = false
			break
		}
		accepted = append(accepted, id)
	}
	if !ok {
		for _, id := range accepted {
			f.bootRequest(f.ctx, id, proto.BootMsg{Op: "abort", Lock: l})
		}
		f.handleBoot(&proto.BootMsg{Op: "abort", Lock: l})
		return nil
	}
	// Decided: from here on the membership is final.
	f.bootMu.Lock()
	err := f.commitLock(l)
	f.bootMu.Unlock()
	if err != nil {
		return err
	}
	f.cfg.Logger.Info("formed the cluster", "cluster", f.cfg.ClusterName, "members", describeMembers(l.Members))
	for _, id := range others {
		if id != f.cfg.NodeID {
			// Best effort: a member that misses it asks for the decision.
			f.bootRequest(f.ctx, id, proto.BootMsg{Op: "commit", Lock: l})
		}
	}
	return nil
}

// settleLock moves a node holding a promise towards a decision: committed
// promises start the meta replica; otherwise the coordinator is asked.
func (f *Formation) settleLock(l *proto.BootLock) error {
	f.bootMu.Lock()
	defer f.bootMu.Unlock()
	if l.Committed {
		return f.commitLock(l)
	}
	if l.Coordinator == f.cfg.NodeID {
		// This node coordinated and stopped before deciding: nothing was
		// decided, so withdrawing is safe; members are told on their next ask.
		return f.setLock(nil)
	}
	f.bootMu.Unlock()
	r, err := f.bootRequest(f.ctx, l.Coordinator, proto.BootMsg{Op: "status"})
	f.bootMu.Lock()
	if err != nil {
		return nil // the coordinator is away; the promise holds until it answers
	}
	f.mu.Lock()
	cur := f.lock
	f.mu.Unlock()
	if !cur.SameAs(l) || cur.Committed {
		return nil // changed meanwhile
	}
	switch {
	case r.Lock.SameAs(l) && r.Lock.Committed:
		return f.commitLock(l)
	case r.Lock.SameAs(l):
		return nil // still deciding
	}
	return f.setLock(nil) // the coordinator withdrew it
}

func describeMembers(m map[uint64]string) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d=%s", id, m[id]))
	}
	return strings.Join(parts, ",")
}

package formation

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
)

// Cluster formation over NATS (see DESIGN.md).
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

const (
	roundEvery    = 150 * time.Millisecond // formation and admission rounds
	discoverWait  = 100 * time.Millisecond // how long answers are collected
	bootReqWait   = time.Second
	waitLogPeriod = 10 * time.Second
)

// formRound is what formation remembers from one round to the next.
type formRound struct {
	lastView string    // the fresh nodes seen, as last seen
	stable   int       // rounds lastView has not changed
	lastLog  time.Time // of the last "waiting" message
}

// formStep is one round of forming or joining: it asks who is there and
// moves on from what it hears. A configuration that can never work makes the
// node refuse to start (Fatal).
func (f *Formation) formStep() {
	hellos, err := f.discover(f.ctx)
	if f.ctx.Err() != nil {
		return
	}
	if err != nil {
		f.cfg.Logger.Warn("cluster discovery", "err", err)
	} else if err := f.decide(hellos, &f.round); err != nil {
		f.setFatal(err)
	}
}

// decide acts on one round's answers; it returns an error only for a
// configuration that can never work.
func (f *Formation) decide(hellos []proto.Hello, r *formRound) error {
	me := f.cfg.NodeID
	var members []proto.Hello
	fresh := map[uint64]string{me: f.cfg.RaftAddress}
	for _, h := range hellos {
		if h.Cluster != f.cfg.ClusterName {
			return fmt.Errorf("storenode: node %d at %s belongs to cluster %q, and this node to %q: one NATS server carries one Logbook cluster; use the same -cluster name or another NATS",
				h.NodeID, h.RaftAddress, h.Cluster, f.cfg.ClusterName)
		}
		if h.NodeID == me {
			return fmt.Errorf("storenode: node id %d is already used by the storenode at %s; every storenode needs its own id", me, h.RaftAddress)
		}
		if h.State == proto.StateMember {
			members = append(members, h)
			continue
		}
		fresh[h.NodeID] = h.RaftAddress
	}
	f.mu.Lock()
	lock := f.lock
	f.mu.Unlock()
	if lock != nil {
		return f.settleLock(lock)
	}
	if len(members) > 0 {
		if err := f.joinExisting(); err != nil {
			if isFatalJoin(err) {
				return err
			}
			f.cfg.Logger.Warn("cannot join the cluster yet", "err", err)
		}
		return nil
	}
	ids := slices.Sorted(maps.Keys(fresh))
	if len(ids) < f.cfg.InitialSize {
		if time.Since(r.lastLog) > waitLogPeriod {
			f.cfg.Logger.Info("waiting for storenodes to form the cluster", "cluster", f.cfg.ClusterName, "seen", len(ids), "initial_size", f.cfg.InitialSize)
			r.lastLog = time.Now()
		}
		r.stable = 0
		return nil
	}
	view := fmt.Sprint(ids)
	if view == r.lastView {
		r.stable++
	} else {
		r.lastView, r.stable = view, 0
	}
	// The view must stay the same for a round (two with peers) before the
	// lowest id proposes, so that nodes starting together see each other.
	settle := 1
	if f.cfg.InitialSize > 1 {
		settle = 2
	}
	if ids[0] != me || r.stable < settle {
		return nil // the lowest id coordinates, once the view has settled
	}
	chosen := map[uint64]string{}
	for _, id := range ids[:f.cfg.InitialSize] {
		chosen[id] = fresh[id]
	}
	return f.coordinate(&proto.BootLock{Coordinator: me, Members: chosen})
}

package node

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// The reconciler makes this node's replicas match the registry: it starts
// the replicas placed here, reports stores created (running), removes the
// replicas of stores being removed and reports each removal. Because it works
// from the registry alone, a create or remove interrupted by a crash at any
// point finishes when the node comes back.

func (n *Node) pokeReconcile() {
	select {
	case n.reconcileCh <- struct{}{}:
	default:
	}
}

func (n *Node) hasStaticPending() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.staticPending
}

// defaultRunning reports whether the registry shows the default store running.
func (n *Node) defaultRunning() bool {
	s, err := n.reg.Store(n.cfg.DefaultStore)
	if err != nil {
		return false
	}
	return s != nil && (s.Status == meta.StatusRunning || s.Status == meta.StatusDegraded)
}

func (n *Node) isBootstrapped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bootstrapped
}

func (n *Node) reconcileLoop() {
	defer n.loops.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	registered := false
	passes := 0
	for {
		select {
		case <-n.followCtx.Done():
			return
		case <-n.reconcileCh:
		case <-tick.C:
		}
		if _, ok := n.host.Leader(meta.ShardID); !ok {
			continue // no registry to act on yet
		}
		n.mu.Lock()
		joined, fatal := n.clusterOK, n.fatal
		n.mu.Unlock()
		if fatal != nil {
			return // WaitReady reports it; Close stops the node
		}
		if !joined {
			if err := n.joinCluster(); err != nil {
				n.cfg.Logger.Warn("cannot join the cluster yet", "err", err)
				continue
			}
		}
		if !registered {
			if _, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpRegisterNode, NodeID: n.cfg.NodeID, RaftAddress: n.cfg.RaftAddress}); err != nil {
				n.cfg.Logger.Warn("cannot register with the meta shard yet", "err", err)
				continue
			}
			registered = true
		}
		passes++
		if !n.isBootstrapped() || (n.hasStaticPending() && passes%20 == 0) {
			if err := n.bootstrap(); err != nil {
				n.cfg.Logger.Warn("cannot create the default store yet", "err", err)
				continue
			}
		}
		if err := n.reconcile(); err != nil {
			n.cfg.Logger.Warn("reconcile", "err", err)
		}
	}
}

// bootstrap makes sure the default store and the static stores exist. Only
// the default store is required: a configured store that cannot be created
// (being removed, impossible settings) is reported on its status and in the
// log, and tried again on the next passes, without holding anything up.
func (n *Node) bootstrap() error {
	nodes, err := n.reg.Nodes()
	if err != nil {
		return err
	}
	count := len(nodes)
	if count < n.cfg.InitialSize {
		// Stores created now would get fewer replicas than the cluster will
		// have: wait until the initial storenodes have all registered.
		return fmt.Errorf("%d of the %d initial storenodes have registered", count, n.cfg.InitialSize)
	}
	wants := append([]StaticStore{{ID: n.cfg.DefaultStore}}, n.cfg.StaticStores...)
	pending := false
	for i, w := range wants {
		n.mu.Lock()
		done := n.settled[w.ID]
		n.mu.Unlock()
		if done {
			continue
		}
		origin := "config"
		if i == 0 {
			origin = "default"
		}
		problem, err := n.ensureStore(w, origin, count)
		if err != nil {
			if i == 0 {
				return fmt.Errorf("default store %s: %w", w.ID, err)
			}
			pending = true
			continue
		}
		n.mu.Lock()
		if problem != "" {
			if n.mismatch[w.ID] != problem {
				n.cfg.Logger.Warn("store in configuration", "store", w.ID, "problem", problem)
			}
			n.mismatch[w.ID] = problem
		}
		n.settled[w.ID] = problem == "" || !strings.HasPrefix(problem, retryPrefix)
		pending = pending || !n.settled[w.ID]
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.bootstrapped = n.settled[n.cfg.DefaultStore]
	n.staticPending = pending
	n.mu.Unlock()
	return nil
}

// retryPrefix marks a configuration problem that may go away by itself.
const retryPrefix = "not created yet: "

// ensureStore creates a configured store unless the registry has it. It
// returns a problem to report (the store differs from the configuration, or
// cannot be created now) or an error when the registry cannot be reached.
func (n *Node) ensureStore(w StaticStore, origin string, nodes int) (string, error) {
	settings, err := n.resolveSettings(&w.Settings, nodes)
	if err != nil {
		return "cannot be created: " + err.Error(), nil
	}
	r, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpCreate, Store: w.ID, Settings: settings, Origin: origin, MaxStores: int64(n.cfg.MaxStores)})
	if err != nil {
		return "", err
	}
	switch codes.Code(r.Code) {
	case 0:
		return "", nil
	case codes.StoreAlreadyExists:
		return "configuration differs from the registry, which wins: " + describeDiff(settings, r.Store.Settings), nil
	case codes.StoreRemoving, codes.Unavailable:
		return retryPrefix + r.Message, nil
	}
	return "cannot be created: " + r.Message, nil
}

func describeDiff(want, have meta.Settings) string {
	out := ""
	add := func(name string, w, h int64) {
		if w != h {
			out += fmt.Sprintf("%s: configured %d, stored %d; ", name, w, h)
		}
	}
	add("replication_factor", want.ReplicationFactor, have.ReplicationFactor)
	add("request_timeout_ms", want.RequestTimeoutMs, have.RequestTimeoutMs)
	add("max_event_size", want.MaxEventSize, have.MaxEventSize)
	add("max_append_events", want.MaxAppendEvents, have.MaxAppendEvents)
	add("max_read_count", want.MaxReadCount, have.MaxReadCount)
	if len(out) > 2 {
		out = out[:len(out)-2]
	}
	return out
}

// reconcile runs one pass over the registry.
func (n *Node) reconcile() error {
	stores, err := n.reg.Stores()
	if err != nil {
		return err
	}
	addrs, err := n.reg.Addresses()
	if err != nil {
		return err
	}
	me := n.cfg.NodeID
	known := map[string]bool{}
	for _, s := range stores {
		known[s.ID] = true
		running := n.replicas.Get(s.ID) != nil
		switch {
		case s.Status == meta.StatusRemoving:
			if s.HasReplica(me) && !slices.Contains(s.Removed, me) {
				// Stop and delete (again, if a crash interrupted it: every
				// step is idempotent), then report.
				if err := n.stopReplica(s.ID, s.ShardID, true); err != nil {
					return err
				}
				if running {
					n.cfg.Logger.Info("removed store replica", "store", s.ID)
				}
				crashAt("remove-before-report")
				if _, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpReplicaRemoved, Store: s.ID, NodeID: me}); err != nil {
					return err
				}
			}
		case s.HasReplica(me) && !running:
			if s.Origin == "api" && s.Status == meta.StatusCreating {
				crashAt("create-before-start")
			}
			spec := n.specOf(s)
			spec.Join = s.MovingTo(me)
			if err := n.startReplica(spec, addrs); err != nil {
				return err
			}
			n.cfg.Logger.Info("started store replica", "store", s.ID, "shard", s.ShardID, "join", spec.Join)
		case running && !s.HasReplica(me) && !s.MovingFrom(me):
			// The replica moved to another node and has left the store's Raft
			// group: delete it here.
			if err := n.stopReplica(s.ID, s.ShardID, true); err != nil {
				return err
			}
			n.cfg.Logger.Info("replica moved away; deleted it here", "store", s.ID)
		case s.Status == meta.StatusCreating && running:
			// Report the store running once it has a leader; its leader does it.
			if n.host.Leads(s.ShardID) {
				status := meta.StatusRunning
				if int64(len(s.Replicas)) < s.Settings.ReplicationFactor {
					status = meta.StatusDegraded
				}
				if _, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpSetStatus, Store: s.ID, Status: status}); err != nil {
					return err
				}
			}
		}
	}
	n.driveMoves(stores, addrs)
	n.retireLeavingNodes(stores)
	// Replicas the registry no longer knows: stop serving them, keep the data.
	var orphans []string
	for _, r := range n.replicas.List() {
		if !known[r.Spec().ID] {
			orphans = append(orphans, r.Spec().ID)
		}
	}
	for _, id := range orphans {
		n.cfg.Logger.Warn("store replica is not in the registry; stopping it, keeping its data", "store", id)
		if err := n.stopReplica(id, 0, false); err != nil {
			return err
		}
	}
	return nil
}

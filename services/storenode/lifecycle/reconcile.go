package lifecycle

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// The reconciler makes this node's replicas match the registry: it starts
// the replicas placed here, reports stores created (running), removes the
// replicas of stores being removed and reports each removal. Because it works
// from the registry alone, a create or remove interrupted by a crash at any
// point finishes when the node comes back.

// reconcileStep runs a pass once formation has admitted the node; it
// returns false when the node can never serve (WaitReady reports it; Close
// stops the node).
func (l *Lifecycle) reconcileStep() bool {
	if _, ok := l.cfg.Registry.Leader(); !ok {
		return true // no registry to act on yet
	}
	if l.cfg.Admission.Fatal() != nil {
		return false
	}
	if !l.cfg.Admission.Admitted() {
		return true // formation admits the node first
	}
	l.passes++
	l.mu.Lock()
	again := !l.bootstrapped || (l.staticPending && l.passes%20 == 0)
	l.mu.Unlock()
	if again {
		if err := l.bootstrap(); err != nil {
			l.cfg.Logger.Warn("cannot create the default store yet", "err", err)
			return true
		}
	}
	if err := l.reconcile(); err != nil {
		l.cfg.Logger.Warn("reconcile", "err", err)
	}
	return true
}

// fullPassEvery is how often the reconciler looks at every store of the
// registry, also when no change was signalled: the safety net. Between
// full passes it looks only at the stores the registry changed and those
// not yet settled here (pending), so that a pass costs what changed, not
// what the registry holds: with 10,000 stores, a pass over all of them at
// each create made creates slow down as the registry grew.
const fullPassEvery = 2 * time.Second

// reconcile runs one pass: over every store of the registry when any may
// have changed (a snapshot recovered, a command on nodes, the first pass,
// a failed pass) or fullPassEvery has passed; otherwise over the stores
// changed since the last pass and the pending ones.
func (l *Lifecycle) reconcile() error {
	l.changeMu.Lock()
	full := l.changeAll || time.Since(l.lastFull) >= fullPassEvery
	changed := l.changed
	l.changed, l.changeAll = map[string]bool{}, false
	l.changeMu.Unlock()
	var err error
	if full {
		l.lastFull = time.Now()
		err = l.reconcileAll()
	} else {
		err = l.reconcileSome(changed)
	}
	if err != nil {
		// Look at everything again at the next pass.
		l.changeMu.Lock()
		l.changeAll = true
		l.changeMu.Unlock()
	}
	return err
}

// reconcileAll runs a pass over every store, and stops the replicas here
// of stores the registry no longer knows.
func (l *Lifecycle) reconcileAll() error {
	stores, err := l.cfg.Registry.Stores()
	if err != nil {
		return err
	}
	clear(l.pending)
	if err := l.reconcileStores(stores); err != nil {
		return err
	}
	l.cfg.Moves.RetireLeaving(stores)
	known := make(map[string]bool, len(stores))
	for _, s := range stores {
		known[s.ID] = true
	}
	// Replicas the registry no longer knows: stop serving them, keep the data.
	var ids []string
	for _, r := range l.cfg.Replicas.List() {
		ids = append(ids, r.ID)
	}
	for _, id := range append(ids, l.cfg.Replicas.Dormant()...) {
		if known[id] {
			continue
		}
		l.cfg.Logger.Warn("store replica is not in the registry; stopping it, keeping its data", "store", id)
		if err := l.cfg.Replicas.Stop(id, 0, false); err != nil {
			return err
		}
	}
	return nil
}

// reconcileSome runs a pass over the stores changed and the pending ones.
// A store gone from the registry is left to the next full pass.
func (l *Lifecycle) reconcileSome(changed map[string]bool) error {
	for id := range l.pending {
		changed[id] = true
	}
	if len(changed) == 0 {
		return nil
	}
	stores := make([]*meta.Store, 0, len(changed))
	for id := range changed {
		delete(l.pending, id)
		s, err := l.cfg.Registry.Store(id)
		if err != nil {
			return err
		}
		if s != nil {
			stores = append(stores, s)
		}
	}
	return l.reconcileStores(stores)
}

// reconcileStores acts on each of stores and records those not settled
// here in pending.
func (l *Lifecycle) reconcileStores(stores []*meta.Store) error {
	addrs, err := l.cfg.Registry.Addresses()
	if err != nil {
		return err
	}
	// Replica starts and running reports are independent of each other and
	// each waits on the disk (opening a store, a registry fsync): they run
	// side by side at the end of the pass (parallel), so a burst of creates
	// is not served one store at a time.
	var starts, reports []func() error
	for _, s := range stores {
		settled, err := l.reconcileStore(s, addrs, &starts, &reports)
		if err != nil {
			return err
		}
		if !settled {
			l.pending[s.ID] = true
		}
	}
	if err := errors.Join(parallel(starts), parallel(reports)); err != nil {
		return err
	}
	l.cfg.Moves.DriveMoves(stores, addrs)
	return nil
}

// reconcileStore makes this node's replica of s match the registry, or
// queues the start or report that does; it reports whether s is settled
// here (nothing to do until the registry changes it again).
func (l *Lifecycle) reconcileStore(s *meta.Store, addrs map[uint64]string, starts, reports *[]func() error) (settled bool, err error) {
	me := l.cfg.NodeID
	running := l.cfg.Replicas.Running(s.ID)
	settled = (s.Status == meta.StatusRunning || s.Status == meta.StatusDegraded) && len(s.Moves) == 0 && running == s.HasReplica(me)
	switch {
	case s.Status == meta.StatusRemoving:
		if s.HasReplica(me) && !slices.Contains(s.Removed, me) {
			// Stop and delete (again, if a crash interrupted it: every
			// step is idempotent), then report.
			if err := l.cfg.Replicas.Stop(s.ID, s.ShardID, true); err != nil {
				return false, err
			}
			if running {
				l.cfg.Logger.Info("removed store replica", "store", s.ID)
			}
			crashAt("remove-before-report")
			if _, err := l.cfg.Registry.Propose(l.ctx, meta.Command{Op: meta.OpReplicaRemoved, Store: s.ID, NodeID: me}); err != nil {
				return false, err
			}
		}
	case s.HasReplica(me) && !running:
		if s.Origin == "api" && s.Status == meta.StatusCreating {
			crashAt("create-before-start")
		}
		spec := l.specOf(s)
		spec.Join = s.MovingTo(me)
		spec.Restore = s.Status == meta.StatusRestoring
		*starts = append(*starts, func() error {
			dormant, err := l.cfg.Replicas.Start(spec, addrs)
			if err != nil {
				return err
			}
			if dormant {
				l.cfg.Logger.Debug("store replica stays dormant", "store", spec.ID, "shard", spec.ShardID)
				return nil
			}
			l.cfg.Logger.Info("started store replica", "store", spec.ID, "shard", spec.ShardID, "join", spec.Join)
			return nil
		})
	case running && !s.HasReplica(me) && !s.MovingFrom(me):
		// The replica moved to another node and has left the store's Raft
		// group: delete it here.
		if err := l.cfg.Replicas.Stop(s.ID, s.ShardID, true); err != nil {
			return false, err
		}
		l.cfg.Logger.Info("replica moved away; deleted it here", "store", s.ID)
	case running && l.cfg.Replicas.IsDormant(s.ID) && l.mustWake(s):
		id := s.ID
		*starts = append(*starts, func() error {
			if err := l.cfg.Replicas.Wake(id); err != nil {
				return err
			}
			l.cfg.Logger.Info("woke a dormant store replica for the registry", "store", id)
			return nil
		})
		settled = false // its leader may have a quota to set
	case s.Status == meta.StatusRestoring && running:
		if l.cfg.Raft.Leads(s.ShardID) {
			if err := l.settleRestore(s); err != nil {
				return false, err
			}
		}
	case s.Status == meta.StatusCreating && running:
		// Report the store running once it has a leader; its leader
		// does it, once the store's state machine holds its quota.
		if l.cfg.Raft.Leads(s.ShardID) && l.reconcileQuota(s) {
			status := meta.StatusRunning
			if int64(len(s.Replicas)) < s.Settings.ReplicationFactor {
				status = meta.StatusDegraded
			}
			id := s.ID
			*reports = append(*reports, func() error {
				_, err := l.cfg.Registry.Propose(l.ctx, meta.Command{Op: meta.OpSetStatus, Store: id, Status: status})
				return err
			})
		}
	case running && (s.Status == meta.StatusRunning || s.Status == meta.StatusDegraded) && l.cfg.Raft.Leads(s.ShardID):
		if !l.reconcileQuota(s) {
			settled = false
		}
	}
	return settled, nil
}

// mustWake reports whether the registry needs the store's dormant replica
// here running: the store is not settled (created, restored), replicas
// move, or its quota differs from the one its state machine enforces
// (its leader must propose it).
func (l *Lifecycle) mustWake(s *meta.Store) bool {
	if s.Status != meta.StatusRunning && s.Status != meta.StatusDegraded || len(s.Moves) > 0 {
		return true
	}
	have, ok := l.cfg.Replicas.Quota(s.ID)
	want := sm.Quota{MaxEvents: uint64(s.Settings.MaxEvents), MaxBytes: uint64(s.Settings.MaxBytes)}
	return ok && have != want
}

// quotaTimeout bounds the proposal of a store's quota.
const quotaTimeout = 5 * time.Second

// reconcileQuota runs on a store's leader: when the registry's quota
// differs from the one the store's state machine enforces, it proposes the
// registry's (sm.OpSetQuota). It reports whether the two agree now. Before
// the cluster runs store command version 3 there is no quota in the
// registry (a quota is meta command version 3), so nothing is proposed.
func (l *Lifecycle) reconcileQuota(s *meta.Store) bool {
	want := sm.Quota{MaxEvents: uint64(s.Settings.MaxEvents), MaxBytes: uint64(s.Settings.MaxBytes)}
	have, ok := l.cfg.Replicas.Quota(s.ID)
	if !ok {
		return false
	}
	if have == want {
		return true
	}
	ctx, cancel := context.WithTimeout(l.ctx, quotaTimeout)
	defer cancel()
	if err := l.cfg.Replicas.SetQuota(ctx, s.ID, want); err != nil {
		l.cfg.Logger.Warn("cannot set the store's quota yet", "store", s.ID, "max_events", want.MaxEvents, "max_bytes", want.MaxBytes, "err", err)
		return false
	}
	l.cfg.Logger.Info("store quota set", "store", s.ID, "max_events", want.MaxEvents, "max_bytes", want.MaxBytes)
	return true
}

// settleRestore runs on the leader of a store being restored: once the
// restore completed in the store's state machine, the store is running
// (degraded with fewer replicas than its replication factor); if it failed,
// or its client stopped sending steps for RestoreIdle, the store is removed
// so that nothing half-restored remains.
func (l *Lifecycle) settleRestore(s *meta.Store) error {
	info, ok := l.cfg.Replicas.RestoreInfo(s.ID)
	if !ok {
		return nil
	}
	idle := l.cfg.RestoreIdle
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	last := s.Created
	if info.InProgress {
		last = info.Updated
	}
	switch {
	case info.Completed:
		status := meta.StatusRunning
		if int64(len(s.Replicas)) < s.Settings.ReplicationFactor {
			status = meta.StatusDegraded
		}
		_, err := l.cfg.Registry.Propose(l.ctx, meta.Command{Op: meta.OpSetStatus, Store: s.ID, Status: status})
		return err
	case info.Failed != "" || time.Since(time.Unix(0, last)) > idle:
		reason := info.Failed
		if reason == "" {
			reason = "no restore step for " + idle.String()
		}
		l.cfg.Logger.Warn("removing a store whose restore did not complete", "store", s.ID, "reason", reason)
		_, err := l.cfg.Registry.Propose(l.ctx, meta.Command{Op: meta.OpRemove, Store: s.ID, Protected: l.cfg.DefaultStore})
		return err
	}
	return nil
}

// passWorkers bounds the replica starts (or running reports) of one pass
// that run at once.
const passWorkers = 8

// parallel runs fs on up to passWorkers goroutines, waits for them all and
// returns their errors joined.
func parallel(fs []func() error) error {
	if len(fs) == 1 {
		return fs[0]()
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan func() error)
	)
	for range min(passWorkers, len(fs)) {
		wg.Add(1)
		go func() { // owned by this call: ends when next is closed
			defer wg.Done()
			for f := range next {
				if err := f(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range fs {
		next <- f
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

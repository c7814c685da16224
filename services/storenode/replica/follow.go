package replica

import (
	"context"
	"time"
)

// Follow starts the follower: it keeps serving in line with Raft, so that
// this node serves a store's requests (and runs its leader tasks) exactly
// while it leads the store. It passes at every poke (leader change, replica
// started) and twice a second in case a change was missed. With
// HibernateAfter set it also starts the hibernator (dormant.go).
// StopFollowing stops both.
func (s *Set) Follow() {
	ctx, cancel := context.WithCancel(s.ctx)
	s.followCancel = cancel
	if s.hibernating() {
		s.follower.Add(1)
		go func() {
			defer s.follower.Done()
			s.hibernator(ctx)
		}()
	}
	s.follower.Add(1)
	go func() {
		defer s.follower.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			s.pass()
			select {
			case <-ctx.Done():
				return
			case <-s.cfg.Wake:
			case <-tick.C:
			}
		}
	}()
}

// StopFollowing stops the follower and waits for it; nothing is served or
// stops being served by it after it returns.
func (s *Set) StopFollowing() {
	if s.followCancel != nil {
		s.followCancel()
	}
	s.follower.Wait()
}

// Poke makes the follower pass at once. It never blocks: it runs on Raft's
// goroutines.
func (s *Set) Poke() {
	select {
	case s.cfg.Wake <- struct{}{}:
	default:
	}
}

// pass is called only by the follower; it never waits on NATS.
//
// Serving state (unserve, leadCancel) is read and written only under s.mu,
// and a replica that Stop has taken out, or any replica once Unserve has
// run, is never served again: lead subscribes outside the lock, then
// re-checks under it and undoes its subscription if the replica stopped
// meanwhile. So a Stop that lands while the follower subscribes can never
// leave a subscription or leader tasks behind.
func (s *Set) pass() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	reps := make([]*Replica, 0, len(s.replicas))
	for _, r := range s.replicas {
		reps = append(reps, r)
	}
	s.mu.Unlock()
	if s.cfg.OnPass != nil {
		s.cfg.OnPass()
	}
	for _, r := range reps {
		leads := s.cfg.Raft.Leads(r.spec.ShardID)
		s.mu.Lock()
		serving := r.unserve != nil
		s.mu.Unlock()
		switch {
		case leads && !serving:
			if s.lead(r) {
				s.cfg.Logger.Debug("leading store", "store", r.spec.ID)
			}
		case !leads && serving:
			s.stopServing(r)
			s.cfg.Logger.Info("no longer leading store", "store", r.spec.ID)
		}
	}
}

// lead starts serving r and its leader tasks; false if it does not serve
// it (cannot subscribe, or r stopped meanwhile).
func (s *Set) lead(r *Replica) bool {
	stop, err := s.cfg.Serve(r)
	if err != nil {
		s.cfg.Logger.Error("cannot serve store", "store", r.spec.ID, "err", err)
		return false
	}
	s.mu.Lock()
	if r.stopped || s.closing {
		s.mu.Unlock()
		stop()
		return false
	}
	r.unserve = stop
	if r.leadCancel != nil {
		r.leadCancel()
	}
	// The tasks end with the replica at the latest.
	ctx, cancel := context.WithCancel(r.ctx)
	r.leadCancel = cancel
	// Added under the lock: once closing is set (before Close waits), no
	// task is added.
	s.tasks.Add(len(s.cfg.Tasks))
	r.tasks.Add(len(s.cfg.Tasks))
	s.mu.Unlock()
	for _, t := range s.cfg.Tasks {
		go func() {
			defer s.tasks.Done()
			defer r.tasks.Done()
			t(ctx, r)
		}()
	}
	return true
}

// stopServing stops serving r and its leader tasks, and ends the proposals
// in flight (their outcome unknown): this node no longer leads the store.
func (s *Set) stopServing(r *Replica) {
	s.mu.Lock()
	stop, cancel := r.unserve, r.leadCancel
	r.unserve, r.leadCancel = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if cancel != nil {
		cancel()
	}
	r.proposer.leaderLost()
}

package replica

import (
	"context"
	"time"
)

// Follow starts the follower: it keeps serving in line with Raft, so that
// this node serves a store's requests (and runs its leader tasks) exactly
// while it leads the store. It passes at every poke (leader change, replica
// started) and twice a second in case a change was missed. StopFollowing
// stops it.
func (s *Set) Follow() {
	ctx, cancel := context.WithCancel(s.ctx)
	s.followCancel = cancel
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
		switch {
		case leads && r.unserve == nil:
			stop, err := s.cfg.Serve(r)
			if err != nil {
				s.cfg.Logger.Error("cannot serve store", "store", r.spec.ID, "err", err)
				continue
			}
			s.mu.Lock()
			r.unserve = stop
			s.mu.Unlock()
			s.startTasks(r)
			s.cfg.Logger.Debug("leading store", "store", r.spec.ID)
		case !leads && r.unserve != nil:
			s.stopServing(r)
			s.cfg.Logger.Info("no longer leading store", "store", r.spec.ID)
		}
	}
}

func (s *Set) stopServing(r *Replica) {
	s.mu.Lock()
	stop := r.unserve
	r.unserve = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.stopTasks(r)
	r.proposer.leaderLost()
}

// startTasks starts every leader task for a store this node now leads.
func (s *Set) startTasks(r *Replica) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.mu.Lock()
	if r.leadCancel != nil {
		r.leadCancel()
	}
	r.leadCancel = cancel
	s.mu.Unlock()
	for _, t := range s.cfg.Tasks {
		s.tasks.Add(1)
		go func() {
			defer s.tasks.Done()
			t(ctx, r)
		}()
	}
}

// stopTasks cancels the tasks of r, if any run; it does not wait.
func (s *Set) stopTasks(r *Replica) {
	s.mu.Lock()
	cancel := r.leadCancel
	r.leadCancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

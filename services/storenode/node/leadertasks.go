package node

import (
	"context"
	"sync"
)

// Leader tasks are background jobs that run on a store's leader only, for as
// long as this node leads it: live event publication and persistent
// subscription delivery register one each from their own files. A task's
// context is cancelled when leadership moves, the replica stops or the node
// closes; the task must return promptly then.
type leaderTask func(ctx context.Context, n *Node, r *storeReplica)

// leaderTasks is filled by init functions.
var leaderTasks []leaderTask

// signal wakes any number of waiters each time it fires; waiters that were
// not waiting miss nothing they need, because they re-read state on wake-up.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

// C returns a channel closed at the next fire.
func (s *signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// startLeaderTasks starts every task for a store this node now leads.
// Called by syncLeaders under no lock.
func (n *Node) startLeaderTasks(r *storeReplica) {
	ctx, cancel := context.WithCancel(n.ctx)
	n.mu.Lock()
	if r.leadCancel != nil {
		r.leadCancel()
	}
	r.leadCancel = cancel
	n.mu.Unlock()
	for _, t := range leaderTasks {
		n.tasks.Add(1)
		go func() {
			defer n.tasks.Done()
			t(ctx, n, r)
		}()
	}
}

// stopLeaderTasks cancels the tasks of r, if any run; it does not wait.
func (n *Node) stopLeaderTasks(r *storeReplica) {
	n.mu.Lock()
	cancel := r.leadCancel
	r.leadCancel = nil
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

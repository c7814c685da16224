// Package broadcast wakes any number of waiters each time something
// changes: a waiter takes the channel (C) before it reads what it waits on,
// so a change between the read and the wait still wakes it, and waiters
// that were not waiting miss nothing, because they re-read state on wake-up.
package broadcast

import "sync"

// Signal is one source of wake-ups. Use New; the zero value is not ready.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// New returns a Signal.
func New() *Signal { return &Signal{ch: make(chan struct{})} }

// C returns a channel closed at the next Fire.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// Fire wakes everyone waiting on a channel C returned before.
func (s *Signal) Fire() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

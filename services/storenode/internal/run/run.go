// Package run lets a part of the storenode own its goroutines and its NATS
// subscriptions: a Group runs the part's loops under one context and keeps
// its subscriptions; Close stops the loops, waits for them, then leaves the
// subscriptions. So a part that is closed neither acts nor serves any more.
package run

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Group is what one part runs and serves. Its zero value is not usable: see
// New.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup

	mu     sync.Mutex
	closed bool
	subs   []*nats.Subscription
}

// New returns an open group.
func New() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is cancelled by Close; it bounds what the part's loops do.
func (g *Group) Context() context.Context { return g.ctx }

// Loop runs f on a goroutine of the group: at once, then each time wake
// fires (nil: never) or period passes, until f returns false or the group
// closes.
func (g *Group) Loop(period time.Duration, wake <-chan struct{}, f func() bool) {
	g.loops.Add(1)
	go func() {
		defer g.loops.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for f() && g.wait(wake, tick.C) {
		}
	}()
}

// wait blocks until wake or tick fires (true) or the group closes (false).
func (g *Group) wait(wake <-chan struct{}, tick <-chan time.Time) bool {
	select {
	case <-g.ctx.Done():
		return false
	case <-wake:
	case <-tick:
	}
	return true
}

// Keep records a subscription, to be left by Close. Once the group is
// closed, it leaves sub at once and returns false.
func (g *Group) Keep(sub *nats.Subscription) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		sub.Unsubscribe()
		return false
	}
	g.subs = append(g.subs, sub)
	return true
}

// Leave leaves a kept subscription now.
func (g *Group) Leave(sub *nats.Subscription) {
	g.mu.Lock()
	g.subs = slices.DeleteFunc(g.subs, func(s *nats.Subscription) bool { return s == sub })
	g.mu.Unlock()
	sub.Unsubscribe()
}

// Close stops the loops and waits for them, then leaves every subscription.
func (g *Group) Close() {
	g.cancel()
	g.loops.Wait()
	g.mu.Lock()
	g.closed = true
	subs := g.subs
	g.subs = nil
	g.mu.Unlock()
	for _, sub := range subs {
		sub.Unsubscribe()
	}
}

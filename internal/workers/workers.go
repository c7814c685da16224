// Package workers runs short functions on goroutines that are kept for a
// while after they finish, to take the next function.
//
// A request served on a fresh goroutine pays for its stack: it starts small
// and is copied, twice or more, as the decoding of a request (reflection-
// heavy MessagePack) and its handling grow it. In the 64-client lbcluster
// profiles (issue 11) that copying (runtime.newstack) was 6% of a store
// leader's CPU and 9% of a gateway's. A kept goroutine keeps its grown stack.
package workers

import (
	"sync"
	"sync/atomic"
	"time"
)

// Pool hands functions to idle workers, starting a worker when none is
// idle. Its zero value is not usable: see New. Close stops it.
type Pool struct {
	idle time.Duration
	work chan func() // unbuffered: a send succeeds only to an idle worker
	stop chan struct{}

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	started atomic.Int64 // workers started, ever (for the tests)
	idlers  atomic.Int32 // workers waiting for a function (for the tests)
}

// New returns a pool whose workers wait up to idle for the next function
// before they exit.
func New(idle time.Duration) *Pool {
	return &Pool{idle: idle, work: make(chan func()), stop: make(chan struct{})}
}

// Go runs fn on a worker, at once: it never waits for one to be free.
// After Close, fn runs on a goroutine of its own.
func (p *Pool) Go(fn func()) {
	select {
	case p.work <- fn:
		return
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go fn()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	p.started.Add(1)
	go p.run(fn)
}

func (p *Pool) run(fn func()) {
	defer p.wg.Done()
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		fn()
		t.Reset(p.idle)
		p.idlers.Add(1)
		select {
		case fn = <-p.work:
			p.idlers.Add(-1)
		case <-t.C:
			p.idlers.Add(-1)
			return
		case <-p.stop:
			p.idlers.Add(-1)
			return
		}
	}
}

// Close makes the idle workers exit and waits for every worker, so for the
// functions they are running.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

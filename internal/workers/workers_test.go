package workers

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every function runs exactly once, concurrent ones included; Close waits
// for the running ones and leaves no worker behind.
func TestRunsEveryFunctionOnce(t *testing.T) {
	p := New(time.Minute)
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 500 {
		wg.Add(1)
		p.Go(func() { ran.Add(1); wg.Done() })
	}
	wg.Wait()
	if n := ran.Load(); n != 500 {
		t.Fatalf("%d of 500 functions ran", n)
	}
	release := make(chan struct{})
	finished := make(chan struct{})
	p.Go(func() { <-release; close(finished) })
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a function was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	select {
	case <-finished:
	default:
		t.Fatal("Close returned before the running function finished")
	}
}

// Go never waits for a free worker: a function that blocks does not hold
// up the next one.
func TestGoNeverWaits(t *testing.T) {
	p := New(time.Minute)
	defer p.Close()
	block := make(chan struct{})
	p.Go(func() { <-block })
	done := make(chan struct{})
	p.Go(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the second function waited for the first")
	}
	close(block)
}

// A worker is reused: functions run one after another, each once the
// worker before waits for work, start one worker, or a few (a worker counts
// itself idle just before it reaches its wait, and a function handed over
// in that instant starts another).
func TestWorkerIsReused(t *testing.T) {
	p := New(time.Minute)
	defer p.Close()
	for range 100 {
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
		for p.idlers.Load() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if n := p.started.Load(); n > 5 {
		t.Fatalf("%d workers started for 100 functions run one after another", n)
	}
}

// Idle workers exit after the idle time; after Close, Go still runs.
func TestIdleWorkersExitAndGoAfterClose(t *testing.T) {
	p := New(time.Millisecond)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	exited := make(chan struct{})
	go func() { p.wg.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle worker outlived its idle time")
	}
	p.Close()
	after := make(chan struct{})
	p.Go(func() { close(after) })
	<-after
}

// BenchmarkDeepStack runs a function that needs a 64 KiB stack, the way a
// request handler decoding MessagePack does: on a fresh goroutine each
// time, and on the pool.
func BenchmarkDeepStack(b *testing.B) {
	run := func(b *testing.B, spawn func(func())) {
		var wg sync.WaitGroup
		for range b.N {
			wg.Add(1)
			spawn(func() { deep(64); wg.Done() })
			wg.Wait()
		}
	}
	b.Run("goroutine", func(b *testing.B) { run(b, func(fn func()) { go fn() }) })
	b.Run("pool", func(b *testing.B) {
		p := New(time.Second)
		defer p.Close()
		run(b, p.Go)
	})
}

//go:noinline
func deep(n int) byte {
	var buf [1024]byte
	buf[n%1024] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return deep(n-1) + buf[n%1024]
}

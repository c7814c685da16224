package run

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestLoopRunsAtOnceOnWakeAndStopsAtClose(t *testing.T) {
	g := New()
	wake := make(chan struct{})
	var runs atomic.Int32
	ran := make(chan struct{}, 10)
	g.Loop(time.Hour, wake, func() bool {
		runs.Add(1)
		ran <- struct{}{}
		return true
	})
	<-ran // at once
	wake <- struct{}{}
	<-ran // on wake
	g.Close()
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
	select {
	case wake <- struct{}{}:
		t.Fatal("the loop still runs after Close")
	case <-time.After(20 * time.Millisecond):
	}
	if g.Context().Err() == nil {
		t.Fatal("context not cancelled by Close")
	}
}

func TestLoopEndsWhenFReturnsFalse(t *testing.T) {
	g := New()
	var runs atomic.Int32
	g.Loop(time.Millisecond, nil, func() bool { return runs.Add(1) < 3 })
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	g.Close()
	if n := runs.Load(); n != 3 {
		t.Fatalf("%d runs, want 3", n)
	}
}

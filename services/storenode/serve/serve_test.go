package serve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestDrainRefusesNewRequestsAndWaitsForRunningOnes(t *testing.T) {
	s := New(2)
	started := make(chan struct{})
	release := make(chan struct{})
	var sawDeadline bool
	s.Dispatch(&nats.Msg{Subject: "a"}, time.Minute, func(ctx context.Context, _ *nats.Msg) (any, error) {
		_, sawDeadline = ctx.Deadline()
		close(started)
		<-release
		return nil, nil
	})
	<-started
	drained := make(chan struct{})
	go func() { s.Drain(); close(drained) }()
	select {
	case <-drained:
		t.Fatal("Drain returned while a request was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-drained
	if !sawDeadline {
		t.Fatal("the request ran without a deadline")
	}
	ran := false
	s.Dispatch(&nats.Msg{Subject: "b"}, time.Minute, func(context.Context, *nats.Msg) (any, error) {
		ran = true
		return nil, nil
	})
	if ran {
		t.Fatal("a request ran after Drain")
	}
	s.Stop()
}

func TestStopEndsTheContextOfRunningRequests(t *testing.T) {
	s := New(1)
	done := make(chan error, 1)
	s.Dispatch(&nats.Msg{Subject: "a"}, time.Minute, func(ctx context.Context, _ *nats.Msg) (any, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	})
	s.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("context ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not end the running request")
	}
}

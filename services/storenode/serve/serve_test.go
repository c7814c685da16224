package serve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
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
	for name, run := range map[string]func(s *Server, h func(context.Context) (any, error)){
		"dispatched": func(s *Server, h func(context.Context) (any, error)) {
			s.Dispatch(&nats.Msg{Subject: "a"}, time.Minute, func(ctx context.Context, _ *nats.Msg) (any, error) { return h(ctx) })
		},
		"called": func(s *Server, h func(context.Context) (any, error)) {
			go s.Call(context.Background(), time.Minute, h)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := New(1)
			started, done := make(chan struct{}), make(chan error, 1)
			run(s, func(ctx context.Context) (any, error) {
				close(started)
				<-ctx.Done()
				done <- ctx.Err()
				return nil, ctx.Err()
			})
			<-started
			s.Stop()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("context ended with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Stop did not end the running request")
			}
		})
	}
}

func TestCallRunsInTheCallerWithinTheServersBounds(t *testing.T) {
	s := New(1)
	defer s.Stop()
	// A call holds the only slot: a second one waits, and gives up with its context.
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err, ok := s.Call(context.Background(), time.Minute, func(ctx context.Context) (any, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("the call ran without a deadline")
			}
			close(started)
			<-release
			return nil, errors.New("answered")
		})
		if !ok {
			err = errors.New("refused")
		}
		first <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, ok := s.Call(ctx, time.Minute, func(context.Context) (any, error) { return nil, nil }); ok {
		t.Fatal("a call ran while max requests were running")
	}
	// Drain waits for the running call, then refuses new ones.
	drained := make(chan struct{})
	go func() { s.Drain(); close(drained) }()
	select {
	case <-drained:
		t.Fatal("Drain returned while a call was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-first; err == nil || err.Error() != "answered" {
		t.Fatalf("the running call returned %v", err)
	}
	<-drained
	if _, _, ok := s.Call(context.Background(), time.Minute, func(context.Context) (any, error) { return nil, nil }); ok {
		t.Fatal("a call ran after Drain")
	}
}

func TestReplyIsWhatRespondSends(t *testing.T) {
	if r := Reply(map[string]int{"a": 1}, nil); r.Header != nil || len(r.Data) == 0 {
		t.Fatalf("a reply: %+v", r)
	}
	r := Reply(nil, codes.New(codes.StreamNotFound, "no such stream"))
	if e := wire.ErrorFromMsg(r); e == nil || e.Code != codes.StreamNotFound || e.Message != "no such stream" {
		t.Fatalf("an error reply carries %+v", e)
	}
	if e := wire.ErrorFromMsg(Reply(make(chan int), nil)); e == nil || e.Code != codes.Internal {
		t.Fatalf("a reply that cannot be encoded is answered %+v", e)
	}
}

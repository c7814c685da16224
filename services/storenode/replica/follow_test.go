package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// fakeHost is a Raft that starts and stops nothing and leads as leads says.
type fakeHost struct {
	leads func(shard uint64) bool
}

func (f *fakeHost) HasReplica(uint64) bool { return false }
func (f *fakeHost) StartOnDisk(raft.ReplicaConfig, map[uint64]string, bool, func() dbsm.IOnDiskStateMachine) error {
	return nil
}
func (f *fakeHost) Stop(uint64) error                                       { return nil }
func (f *fakeHost) RemoveData(context.Context, uint64) error                { return nil }
func (f *fakeHost) Leads(shard uint64) bool                                 { return f.leads(shard) }
func (f *fakeHost) Follows(shard uint64) bool                               { return !f.leads(shard) }
func (f *fakeHost) Read(context.Context, uint64, any) (any, error)          { return nil, nil }
func (f *fakeHost) StaleRead(uint64, any) (any, error)                      { return nil, nil }
func (f *fakeHost) Propose(context.Context, uint64, []byte) ([]byte, error) { return nil, nil }

// serving records what the Set serves: subscriptions and leader tasks
// alive, and stops of a subscription already stopped.
type serving struct {
	subs, tasks, doubleStops atomic.Int64
	before                   func(r *Replica) // runs inside Serve, before it subscribes
}

func (sv *serving) serve(r *Replica) (func(), error) {
	if sv.before != nil {
		sv.before(r)
	}
	sv.subs.Add(1)
	var once atomic.Bool
	return func() {
		if !once.CompareAndSwap(false, true) {
			sv.doubleStops.Add(1)
			return
		}
		sv.subs.Add(-1)
	}, nil
}

func (sv *serving) task(ctx context.Context, _ *Replica) {
	sv.tasks.Add(1)
	defer sv.tasks.Add(-1)
	<-ctx.Done()
}

func newTestSet(h *fakeHost, sv *serving, passes *atomic.Int64) *Set {
	return New(Config{
		Raft: h, Dir: "/nonexistent", MaxBatch: 1, Proposers: 1,
		Serve: sv.serve, Tasks: []Task{sv.task},
		OnPass: func() { passes.Add(1) },
	})
}

func spec(i int) Spec {
	return Spec{ID: fmt.Sprintf("s%d", i), ShardID: uint64(100 + i), Replicas: []uint64{1}, Timeout: time.Second}
}

var addrs = map[uint64]string{1: "localhost:1"}

// waitFor polls cond for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A replica stopped while the follower is subscribing it to its leader
// subjects must not be served afterwards: neither its subscription nor its
// leader tasks may outlive the Stop.
func TestStopWhileSubscribingServesNothing(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	sv := &serving{before: func(*Replica) {
		first.Do(func() { close(entered); <-release })
	}}
	var passes atomic.Int64
	s := newTestSet(&fakeHost{leads: func(uint64) bool { return true }}, sv, &passes)
	if _, err := s.Start(spec(1), addrs); err != nil {
		t.Fatal(err)
	}
	s.Follow()
	<-entered // the follower is subscribing s1
	stopped := make(chan error)
	go func() { stopped <- s.Stop("s1", spec(1).ShardID, false) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Stop waits for the follower")
	}
	close(release)
	checkNothingServed(t, s, sv, &passes)
}

// checkNothingServed checks, once every replica of s is stopped, that the
// follower leaves no subscription and no leader task behind, then closes s.
func checkNothingServed(t *testing.T, s *Set, sv *serving, passes *atomic.Int64) {
	t.Helper()
	// Two more passes: the one under way (maybe subscribing) has ended.
	from := passes.Load()
	waitFor(t, "the follower does not pass", func() bool { s.Poke(); return passes.Load() >= from+2 })
	if n := sv.subs.Load(); n != 0 {
		t.Fatalf("%d subscription(s) survive the Stop of their replica", n)
	}
	waitFor(t, "leader tasks of stopped replicas still run", func() bool { return sv.tasks.Load() == 0 })
	s.StopFollowing()
	s.Unserve()
	s.Close()
	if n := sv.subs.Load(); n != 0 {
		t.Fatalf("%d subscription(s) survive Close", n)
	}
	if n := sv.doubleStops.Load(); n != 0 {
		t.Fatalf("%d subscription(s) stopped twice", n)
	}
}

// Many replicas started and stopped while the follower passes and
// leadership flaps: no data race (go test -race), no subscription or
// leader task left over, no subscription stopped twice.
func TestConcurrentStopAndFollowLeakNothing(t *testing.T) {
	sv := &serving{}
	var passes atomic.Int64
	s := newTestSet(&fakeHost{leads: func(uint64) bool { return rand.IntN(4) != 0 }}, sv, &passes)
	s.Follow()
	done := make(chan struct{})
	var pokes sync.WaitGroup
	pokes.Add(1)
	go func() {
		defer pokes.Done()
		for {
			select {
			case <-done:
				return
			default:
				s.Poke()
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := s.Start(spec(g), addrs); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				if err := s.Stop(spec(g).ID, spec(g).ShardID, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	pokes.Wait()
	checkNothingServed(t, s, sv, &passes)
}

package replica

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// leaderless is a fakeHost whose shards have no leader until led says so.
type leaderless struct {
	fakeHost
	led sync.Map // shard → true once it has a leader
}

func newLeaderless() *leaderless {
	l := &leaderless{}
	l.leads = func(uint64) bool { return false }
	return l
}

func (l *leaderless) Follows(shard uint64) bool { _, ok := l.led.Load(shard); return ok }

// campaigns records the campaign requests a Set sends, by target node.
type campaigns struct {
	mu  sync.Mutex
	got map[uint64][]uint64 // shard → target of each request
}

func (c *campaigns) ask(node uint64, spec Spec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[uint64][]uint64{}
	}
	c.got[spec.ShardID] = append(c.got[spec.ShardID], node)
}

func (c *campaigns) of(shard uint64) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64(nil), c.got[shard]...)
}

// A store's replicas starting with no leader ask the designated replica
// to campaign, again and again until a leader shows up; the designated
// replica of a group of several, and a replica joining a running group, do
// not ask; a single replica asks itself.
func TestReplicasAskTheDesignatedOneToCampaign(t *testing.T) {
	h := newLeaderless()
	var asked campaigns
	var passes atomic.Int64
	s := New(Config{Raft: h, NodeID: 1, Dir: "/nonexistent", MaxBatch: 1, Proposers: 1, Serve: (&serving{}).serve, OnPass: func() { passes.Add(1) }, Campaign: asked.ask})
	defer s.Close()
	three := []uint64{3, 1, 2}
	// Shard 100: designated replicas[100 % 3] of [1 2 3], node 2.
	other := Spec{ID: "other", ShardID: 100, Replicas: three, Timeout: time.Second}
	// Shard 99: node 1, this one.
	mine := Spec{ID: "mine", ShardID: 99, Replicas: three, Timeout: time.Second}
	solo := Spec{ID: "solo", ShardID: 7, Replicas: []uint64{1}, Timeout: time.Second}
	joining := Spec{ID: "joining", ShardID: 101, Replicas: three, Join: true, Timeout: time.Second}
	all := map[uint64]string{1: "a:1", 2: "a:2", 3: "a:3"}
	for _, sp := range []Spec{other, mine, solo, joining} {
		if _, err := s.Start(sp, all); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "no second campaign request to node 2 for shard 100", func() bool { return len(asked.of(100)) >= 2 })
	waitFor(t, "no second campaign request of the single replica to itself", func() bool { return len(asked.of(7)) >= 2 })
	for shard, want := range map[uint64]uint64{100: 2, 7: 1} {
		for _, got := range asked.of(shard) {
			if got != want {
				t.Fatalf("shard %d: campaign asked of node %d, want %d", shard, got, want)
			}
		}
	}
	// A leader: the requests stop.
	h.led.Store(uint64(100), true)
	time.Sleep(2 * campaignEvery)
	n := len(asked.of(100))
	time.Sleep(4 * campaignEvery)
	if got := len(asked.of(100)); got != n {
		t.Fatalf("campaign requests went on with a leader: %d, then %d", n, got)
	}
	// Stopping the replica ends its requests.
	if err := s.Stop("solo", 7, false); err != nil {
		t.Fatal(err)
	}
	n = len(asked.of(7))
	time.Sleep(4 * campaignEvery)
	if got := len(asked.of(7)); got != n {
		t.Fatalf("campaign requests went on after the replica stopped: %d, then %d", n, got)
	}
	if got := asked.of(99); len(got) > 0 {
		t.Fatalf("the designated replica asked for campaigns: %v", got)
	}
	if got := asked.of(101); len(got) > 0 {
		t.Fatalf("a joining replica asked for campaigns: %v", got)
	}
}

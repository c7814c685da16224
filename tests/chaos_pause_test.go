package tests

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// The chaos test's measuring instrument: for every fault, how long each
// store went without an acknowledged append (issue 10, "Failover in about a
// second").
//
// A fault hits one node. For each store it is of kind <fault>-leader when
// the node led the store as the fault began, <fault>-follower otherwise.
// A store's pause for a fault is the longest stretch between acknowledged
// appends (an append's acknowledgement is when its reply reached the
// writer) that overlaps [start, end+recoveryWindow]; a stretch that began
// before the fault counts from the fault's start, one still open at the
// window's end counts whole.

// recoveryWindow is how long after a fault ends (the killed node ready
// again, the paused one resumed, the cut one back on the network) its
// effects are still charged to it: a returning node rejoining, the leader
// balancer moving leadership back to it. The chaos test waits at least this
// long between faults, so windows do not overlap.
const recoveryWindow = 3 * time.Second

// Targets (issue 10), checked when LOGBOOK_CHAOS_TARGETS=1.
const (
	// leaderTarget bounds the pause of a store whose leader the fault hit:
	// an election plus the clients finding the new leader.
	leaderTarget = 1500 * time.Millisecond
	// followerAllowance is the "no pause" target for a store whose leader
	// survived: 0 s beyond normal latency, and normal latency under the
	// test's load on a shared machine stays well under this.
	followerAllowance = 300 * time.Millisecond
)

// fault is one fault injected by the chaos test, times since the test's t0.
type fault struct {
	kind       string // kill9, sigstop, partition
	node       uint64
	start, end time.Duration
	leaders    map[string]uint64 // each store's leader as the fault began
	after      map[string]uint64 // and once settled after its recovery window
}

// kindFor is the fault's kind relative to store.
func (f fault) kindFor(store string) string {
	if f.leaders[store] == f.node {
		return f.kind + "-leader"
	}
	return f.kind + "-follower"
}

// targetFor is the longest pause the issue allows a store for a fault of kind.
func targetFor(kind string) time.Duration {
	if strings.HasSuffix(kind, "-leader") {
		return leaderTarget
	}
	return followerAllowance
}

// pauseIn returns the longest stretch without an acknowledgement that
// overlaps [from, to], counting from from at the earliest. acks are sorted;
// end is when the load stopped (a stretch still open then ends there).
func pauseIn(acks []time.Duration, from, to, end time.Duration) time.Duration {
	d, _ := pauseAt(acks, from, to, end)
	return d
}

// pauseAt is pauseIn with when the stretch began (for the report: did it
// start with the fault, or with the node's return?).
func pauseAt(acks []time.Duration, from, to, end time.Duration) (longest, at time.Duration) {
	prev := time.Duration(-1)
	for _, a := range append(slices.Clone(acks), end) {
		if a > from && prev < to {
			if d := a - max(prev, from); d > longest {
				longest, at = d, max(prev, from)
			}
		}
		if a > to {
			break
		}
		prev = a
	}
	return longest, at
}

// calmPause is the longest stretch without an acknowledgement that does not
// overlap any fault's window: a pause with no fault to blame (leader
// balancing long after a fault, compactions, a stalled client).
func calmPause(acks []time.Duration, faults []fault) time.Duration {
	var longest time.Duration
	for i := 1; i < len(acks); i++ {
		a, b := acks[i-1], acks[i]
		overlaps := false
		for _, f := range faults {
			if a < f.end+recoveryWindow && b > f.start {
				overlaps = true
				break
			}
		}
		if !overlaps {
			longest = max(longest, b-a)
		}
	}
	return longest
}

// pauseSample is one store's pause for one fault.
type pauseSample struct {
	fault int
	store string
	kind  string
	pause time.Duration
	at    time.Duration // when it began
}

// measurePauses computes every (fault, store) sample; acks maps each store
// to its sorted acknowledgement times.
func measurePauses(faults []fault, acks map[string][]time.Duration, end time.Duration) []pauseSample {
	stores := slices.Sorted(mapKeys(acks))
	var out []pauseSample
	for i, f := range faults {
		for _, s := range stores {
			d, at := pauseAt(acks[s], f.start, f.end+recoveryWindow, end)
			out = append(out, pauseSample{i, s, f.kindFor(s), d, at})
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pauseTable renders the samples as one line per kind: count, median, max.
func pauseTable(samples []pauseSample) string {
	by := map[string][]time.Duration{}
	for _, s := range samples {
		by[s.kind] = append(by[s.kind], s.pause)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %7s %9s %9s %9s\n", "fault kind", "samples", "median", "max", "target")
	for _, k := range slices.Sorted(mapKeys(by)) {
		ps := by[k]
		slices.Sort(ps)
		fmt.Fprintf(&b, "%-20s %7d %9s %9s %9s\n", k, len(ps), ms(ps[len(ps)/2]), ms(ps[len(ps)-1]), "≤"+ms(targetFor(k)))
	}
	return b.String()
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// chaosTargets reports whether LOGBOOK_CHAOS_TARGETS=1 asks for the targets
// to be checked (`go tool task chaos`); otherwise the pauses are only
// reported, since a loaded CI machine makes them noisy.
func chaosTargets() bool { return os.Getenv("LOGBOOK_CHAOS_TARGETS") == "1" }

// reportPauses logs the per-fault detail and the per-kind table, and with
// targets on fails for every sample over its target.
func reportPauses(t *testing.T, faults []fault, acks map[string][]time.Duration, end time.Duration) {
	t.Helper()
	samples := measurePauses(faults, acks, end)
	for i, f := range faults {
		var parts []string
		for _, s := range samples {
			if s.fault == i {
				role := ""
				if strings.HasSuffix(s.kind, "-leader") {
					role = " (led"
				}
				if l := f.after[s.store]; l != f.leaders[s.store] {
					role += fmt.Sprintf(" %d→%d", f.leaders[s.store], l)
				}
				if strings.HasSuffix(s.kind, "-leader") {
					role += ")"
				} else if role != "" {
					role = " (leader" + role + ")"
				}
				parts = append(parts, fmt.Sprintf("%s %s%s", s.store, ms(s.pause), role))
			}
		}
		t.Logf("fault %d: %s of node %d, %s–%s: %s", i+1, f.kind, f.node, ms(f.start), ms(f.end), strings.Join(parts, ", "))
	}
	var calm []string
	for _, s := range slices.Sorted(mapKeys(acks)) {
		calm = append(calm, fmt.Sprintf("%s %s", s, ms(calmPause(acks[s], faults))))
	}
	t.Logf("longest pause outside any fault window (not a target): %s", strings.Join(calm, ", "))
	t.Logf("pause per fault kind (longest stretch without an acknowledged append on a store, from the fault's start to %s after its end):\n%s",
		recoveryWindow, pauseTable(samples))
	if !chaosTargets() {
		t.Logf("targets not checked (set LOGBOOK_CHAOS_TARGETS=1, as `go tool task chaos` does)")
		return
	}
	for _, s := range samples {
		if target := targetFor(s.kind); s.pause > target {
			f := faults[s.fault]
			t.Errorf("target missed: store %s paused %s after fault %d (%s of node %d), from %s (fault %s–%s), over its %s target",
				s.store, ms(s.pause), s.fault+1, s.kind, f.node, ms(s.at), ms(f.start), ms(f.end), ms(target))
		}
	}
}

// settled says why the view is not the calm state a fault starts from:
// every node up, every store with a leader that each of its replicas,
// all running, agrees on.
func settled(v *wire.ClusterView, size int) error {
	if len(v.Nodes) != size {
		return fmt.Errorf("%d nodes in the view", len(v.Nodes))
	}
	for _, nd := range v.Nodes {
		if nd.Health != wire.NodeUp {
			return fmt.Errorf("node %+v", nd)
		}
	}
	for _, s := range v.Stores {
		if s.Leader == 0 || s.ReplicasUp != len(s.Replicas) || len(s.Moves) > 0 {
			return fmt.Errorf("store %+v", s)
		}
		for _, r := range s.ReplicaStates {
			if r.State != "running" || r.Leader != s.Leader {
				return fmt.Errorf("store %s replica %+v (leader %d)", s.Store, r, s.Leader)
			}
		}
	}
	return nil
}

// waitSettled waits until the cluster is settled (see settled) and returns
// each store's leader. Any node answers a view, from heartbeats up to a
// second old: three views in a row must be settled and name the same
// leaders, so that a fault is classified by the leaders as they are.
func waitSettled(t *testing.T, c *procCluster, timeout time.Duration) map[string]uint64 {
	t.Helper()
	var leaders map[string]uint64
	eventually(t, timeout, func() error {
		leaders = nil
		for range 3 {
			v, err := c.Client.View(ctxT(t))
			if err != nil {
				return err
			}
			if err := settled(v, c.size); err != nil {
				return err
			}
			now := map[string]uint64{}
			for _, s := range v.Stores {
				now[s.Store] = s.Leader
			}
			if leaders != nil && !maps.Equal(leaders, now) {
				return fmt.Errorf("views disagree on leaders: %v, %v", leaders, now)
			}
			leaders = now
		}
		return nil
	})
	return leaders
}

// waitLeadersSpread waits until the cluster is settled and every node
// leads at least one store (the leader balancer's doing), and returns each
// store's leader.
func waitLeadersSpread(t *testing.T, c *procCluster, timeout time.Duration) map[string]uint64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leaders := waitSettled(t, c, time.Until(deadline))
		leads := map[uint64]int{}
		for _, l := range leaders {
			leads[l]++
		}
		idle := uint64(0)
		for id := uint64(1); id <= uint64(c.size); id++ {
			if leads[id] == 0 {
				idle = id
			}
		}
		if idle == 0 {
			return leaders
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d leads no store after %s: %v", idle, timeout, leaders)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package tests

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/prometheus/client_golang/prometheus"
)

// A follower that was down while its leaders compacted their logs past its
// position catches up by a Raft snapshot streamed from the leader and
// recovered into its share of the node's one engine: every store it holds
// (the snapshotted ones and the others, whose ranges sit in the same
// engine) ends up identical to the other replicas, key for key, quota
// included, and its state machine reads back every event.
func TestLaggingFollowerRecoversFromSnapshot(t *testing.T) {
	const snapEntries, overhead = 50, 10
	c := startMemCluster(t, 3, func(cfg *node.Config) {
		cfg.StoreSnapshotEntries, cfg.StoreCompactionOverhead = snapEntries, overhead
		cfg.DisableBalancer = true
	})
	ctx := ctxT(t)
	st := c.Client.Stores()
	lagging := []string{"snap-a", "snap-b", "snap-c"} // compacted past the follower
	quiet := []string{"default", "quiet"}             // caught up from the log
	all := append(slices.Clone(lagging), quiet...)
	for _, id := range all[:3] {
		if _, err := st.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Create(ctx, "quiet", nil); err != nil {
		t.Fatal(err)
	}
	const maxEvents, maxBytes = 100_000, 1 << 30
	if _, err := st.SetQuota(ctx, "snap-a", i64(maxEvents), i64(maxBytes)); err != nil {
		t.Fatal(err)
	}
	for _, id := range all {
		s := c.Client.Store(id)
		for i := range 3 {
			if _, err := s.Append(ctx, "before", client.Any, ev("E", fmt.Sprintf("%s-%d", id, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCaughtUp(t, ctx, c, all, 3)

	// Stop a follower of every store (the balancer is off: leaders stay).
	lag := uint64(3)
	down := c.node(lag)
	c.stop(lag)

	// Each of three stores gets several snapshot intervals of entries (one
	// Raft entry per sequential append), so its leader compacts its log far
	// past the follower's position; "quiet" gets a few, kept in the log.
	for _, id := range lagging {
		s := c.Client.Store(id)
		for i := range 3*snapEntries + overhead {
			if _, err := s.Append(ctx, fmt.Sprintf("s%d", i%7), client.Any, ev("E", fmt.Sprintf("%s-%d", id, i))); err != nil {
				t.Fatalf("append %d to %s with node %d down: %v", i, id, lag, err)
			}
		}
	}
	for i := range 3 {
		if _, err := c.Client.Store("quiet").Append(ctx, "later", client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{}
	for _, id := range all {
		want[id] = eventKeys(readAllForwardCtx(t, ctx, c.Client.Store(id)))
	}

	// The follower comes back: its leaders send it snapshots.
	c.restart(down)
	c.waitReady()
	waitCaughtUp(t, ctx, c, all, 3)
	if got := counter(t, c.node(lag).n.MetricsRegistry(), "logbook_store_snapshots_recovered_total"); got < float64(len(lagging)) {
		t.Fatalf("node %d recovered %v store replicas from a snapshot, want at least %d: the follower caught up without one", lag, got, len(lagging))
	}
	if got := counter(t, c.node(lag).n.MetricsRegistry(), "logbook_raft_snapshots_received_total"); got < float64(len(lagging)) {
		t.Fatalf("node %d received %v snapshots, want at least %d", lag, got, len(lagging))
	}
	var sent float64
	for _, id := range []uint64{1, 2} {
		sent += counter(t, c.node(id).n.MetricsRegistry(), "logbook_raft_snapshots_sent_total")
		if got := counter(t, c.node(id).n.MetricsRegistry(), "logbook_store_snapshots_recovered_total"); got != 0 {
			t.Fatalf("node %d, never behind, recovered %v replicas from a snapshot", id, got)
		}
	}
	if sent < float64(len(lagging)) {
		t.Fatalf("the leaders sent %v snapshots, want at least %d", sent, len(lagging))
	}
	// The recovered replicas apply new entries on top of the snapshot.
	for _, id := range lagging {
		a, err := c.Client.Store(id).Append(ctx, "after", client.NoStream, ev("E", "after"))
		if err != nil || a.FirstPosition != uint64(len(want[id])) {
			t.Fatalf("append to %s after the recovery: %+v %v", id, a, err)
		}
		want[id] = eventKeys(readAllForwardCtx(t, ctx, c.Client.Store(id)))
	}
	waitCaughtUp(t, ctx, c, all, 3)
	// What the recovered replicas hold in memory (reloaded by the
	// recovery, not by a reopen): events, bytes and quota, as the other
	// replicas have them.
	for _, name := range []string{"logbook_store_events", "logbook_store_event_bytes", "logbook_store_quota"} {
		ref := storeGauges(t, c.node(1).n.MetricsRegistry(), name)
		if got := storeGauges(t, c.node(lag).n.MetricsRegistry(), name); !maps.Equal(got, ref) {
			t.Fatalf("%s on the recovered node %v, on node 1 %v", name, got, ref)
		}
		if name == "logbook_store_quota" && ref["events/snap-a"] != maxEvents {
			t.Fatalf("%s %v: snap-a's quota is missing", name, ref)
		}
	}
	// Restarted, the recovered node opens on what the recoveries and the
	// entries after them left: no snapshot is needed again.
	down = c.node(lag)
	c.stop(lag)
	c.restart(down)
	c.waitReady()
	waitCaughtUp(t, ctx, c, all, 3)
	if got := counter(t, c.node(lag).n.MetricsRegistry(), "logbook_store_snapshots_recovered_total"); got != 0 {
		t.Fatalf("node %d recovered %v replicas from a snapshot again after a restart", lag, got)
	}
	v := c.view(ctx)
	shards := shardsOf(t, v, all)
	dirs := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		dirs[id] = c.node(id).cfg.DataDir
	}
	c.close()

	// Every store's range on the recovered node is the others' range, key
	// for key (the applied index apart: a replica stopped later may have
	// applied a new leader's empty entry more), and its state machine
	// reads back every event, the quota and the usage.
	for _, id := range all {
		digests := map[uint64]sm.ReplicaDigest{}
		for n, dir := range dirs {
			digests[n] = replicaDigest(t, dir, shards[id], n)
		}
		r := digests[lag]
		for n, d := range digests {
			if d.Keys == 0 || d.Sum != r.Sum || d.Keys != r.Keys {
				t.Fatalf("store %s: node %d has %d keys (sum %x), the recovered node %d has %d (sum %x)",
					id, n, d.Keys, d.Sum[:6], lag, r.Keys, r.Sum[:6])
			}
		}
		evs, usage := readEngine(t, dirs[lag], shards[id], lag)
		if !slices.Equal(evs, want[id]) {
			t.Fatalf("store %s on the recovered node: %d events, want %d\n got %v\nwant %v", id, len(evs), len(want[id]), head(evs), head(want[id]))
		}
		if usage.Events != uint64(len(want[id])) || usage.Bytes == 0 {
			t.Fatalf("store %s usage on the recovered node: %+v, want %d events", id, usage, len(want[id]))
		}
		if q := (sm.Quota{MaxEvents: maxEvents, MaxBytes: maxBytes}); id == "snap-a" && usage.Quota != q {
			t.Fatalf("snap-a quota on the recovered node: %+v, want %+v", usage.Quota, q)
		}
	}
}

// waitCaughtUp waits until every store has size running replicas that
// all report the same applied index.
func waitCaughtUp(t *testing.T, ctx context.Context, c *memCluster, stores []string, size int) {
	t.Helper()
	waitViewCaughtUp(t, ctx, c.Client, stores, size)
}

// waitViewCaughtUp is waitCaughtUp with the view asked through cl.
func waitViewCaughtUp(t *testing.T, ctx context.Context, cl *client.Client, stores []string, size int) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		v, err := cl.View(ctx)
		if err != nil {
			return err
		}
		for _, id := range stores {
			s, err := storeOf(v, id)
			if err != nil {
				return err
			}
			if len(s.ReplicaStates) != size || s.Leader == 0 {
				return fmt.Errorf("store %s: %+v", id, s)
			}
			for _, r := range s.ReplicaStates {
				if r.State != wire.ReplicaRunning || r.Applied == 0 || r.Applied != s.ReplicaStates[0].Applied {
					return fmt.Errorf("store %s not caught up: %+v", id, s.ReplicaStates)
				}
			}
		}
		return nil
	})
}

// counter reads a counter without labels from a node's metrics.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// storeGauges reads a per-store gauge from a node's metrics, by store (and
// kind, as kind/store: labels come in name order).
func storeGauges(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var key []string
			for _, l := range m.GetLabel() {
				key = append(key, l.GetValue())
			}
			out[strings.Join(key, "/")] = m.GetGauge().GetValue()
		}
	}
	return out
}

// replicaDigest summarises a store replica's range in a stopped node's
// engine.
func replicaDigest(t *testing.T, dataDir string, shard, replica uint64) sm.ReplicaDigest {
	t.Helper()
	eng, err := sm.OpenEngine(filepath.Join(dataDir, "engine"), sm.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	d, err := eng.Digest(shard, replica)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readEngine opens a store replica's state machine on a stopped node's
// engine and reads every event (as eventKeys) and its usage.
func readEngine(t *testing.T, dataDir string, shard, replica uint64) ([]string, sm.Usage) {
	t.Helper()
	eng, err := sm.OpenEngine(filepath.Join(dataDir, "engine"), sm.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	m := sm.New(eng, shard, replica, "", wire.DefaultLimits())
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var out []string
	from := uint64(0)
	for {
		r, err := m.Lookup(sm.ReadAll{From: &from, Count: 1000})
		if err != nil {
			t.Fatal(err)
		}
		p := r.(*sm.AllPage)
		for _, e := range p.Events {
			out = append(out, eventKey(client.RecordedEvent{ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: e.Position, Type: e.Type, Data: e.Data}))
		}
		if p.EndOfStore {
			return out, m.Usage()
		}
		from = p.NextPosition
	}
}

func head(s []string) string {
	return strings.Join(s[:min(3, len(s))], "; ")
}

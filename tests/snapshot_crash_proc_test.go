package tests

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// A follower killed (kill -9) half way through recovering a store from a
// Raft snapshot, part of the snapshot's keys in its engine, drops that half
// at the next start and recovers again: afterwards its replica of the store
// is the others', key for key, and the node's other stores are untouched.
// Real storenode processes; the failpoint kills node 3 after 64 keys.
func TestSnapshotRecoveryKilledMidwayRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	c := startProcCluster(t, 3, func(p *procNode) {
		p.args = append(p.args, "-store-snapshot-entries", "50", "-store-compaction-overhead", "10")
	})
	ctx := ctxT(t)
	st := c.Client.Stores()
	all := []string{"default", "keep", "snap-a"}
	for _, id := range all[1:] {
		if _, err := st.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range all {
		for i := range 3 {
			if _, err := c.Client.Store(id).Append(ctx, "before", client.Any, ev("E", fmt.Sprintf("%s-%d", id, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitViewCaughtUp(t, ctx, c.Client, all, 3)

	const lag = 3
	c.kill9(lag)
	for i := range 160 {
		if _, err := c.Client.Store("snap-a").Append(ctx, fmt.Sprintf("s%d", i%5), client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatalf("append %d with node %d down: %v", i, lag, err)
		}
	}
	want := map[string][]string{}
	for _, id := range all {
		want[id] = eventKeys(readAllForwardCtx(t, ctx, c.Client.Store(id)))
	}

	// Back with the failpoint: it dies in the middle of the recovery.
	p := c.node(lag)
	p.env = []string{"LOGBOOK_FAILPOINT=recover-midway"}
	c.restart(lag)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("node %d did not die in its recovery from a snapshot within 60s", lag)
	}
	var ee *exec.ExitError
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !errors.As(p.err, &ee) || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("node %d exited with %v, want death by SIGKILL at the failpoint", lag, p.err)
	}
	// Back without it: it recovers again, to the end.
	p.env = nil
	c.restart(lag)
	c.waitReady(lag)
	waitViewCaughtUp(t, ctx, c.Client, all, 3)
	fams := scrape(t, c.node(lag).http)
	recovered, received := value(fams, "logbook_store_snapshots_recovered_total"), value(fams, "logbook_raft_snapshots_received_total")
	t.Logf("after the crash, node %d received %v snapshots and recovered %v replicas", lag, received, recovered)
	if recovered < 1 {
		t.Fatalf("node %d recovered %v replicas from a snapshot after the crash, want at least 1", lag, recovered)
	}
	for _, id := range all {
		if got := eventKeys(readAllForwardCtx(t, ctx, c.Client.Store(id))); !slices.Equal(got, want[id]) {
			t.Fatalf("store %s: %d events, want %d", id, len(got), len(want[id]))
		}
	}
	v, err := c.Client.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shards := shardsOf(t, v, all)
	// Stop every node gracefully, then compare the engines.
	for id := uint64(1); id <= 3; id++ {
		n := c.node(id)
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("node %d did not stop within 30s of SIGTERM", id)
		}
	}
	for _, id := range all {
		digests := map[uint64]sm.ReplicaDigest{}
		for n := uint64(1); n <= 3; n++ {
			digests[n] = replicaDigest(t, c.node(n).dir, shards[id], n)
		}
		r := digests[lag]
		for n, d := range digests {
			if d.Keys == 0 || d.Sum != r.Sum || d.Keys != r.Keys {
				t.Fatalf("store %s: node %d has %d keys (sum %x), the recovered node %d has %d (sum %x)",
					id, n, d.Keys, d.Sum[:6], lag, r.Keys, r.Sum[:6])
			}
		}
		if evs, _ := readEngine(t, c.node(lag).dir, shards[id], lag); !slices.Equal(evs, want[id]) {
			t.Fatalf("store %s on the recovered node: %d events, want %d", id, len(evs), len(want[id]))
		}
	}
}

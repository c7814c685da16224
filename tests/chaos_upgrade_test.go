package tests

import (
	"fmt"
	"testing"
	"time"
)

// A rolling upgrade under the chaos workload: three storenodes start on an
// "older" build (this tree built to report and enforce store and registry
// command version 1, as before restore), the chaos stores take load (clients
// that retry, as applications run them), and each node in turn is stopped
// gracefully and started on the new build. Nothing acknowledged may be lost
// or duplicated, every history stays linearizable, no append may end in an
// error the client had to see (its retries hide elections and hand-overs),
// and once the last node runs the new build the cluster version rises by
// itself. `go tool task chaos` runs it with the fault test.
func TestChaosRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test skipped in -short mode")
	}
	storenodeBinary(t) // built now, not during the first upgrade
	oldBin := buildBinary(t, "github.com/logbookdb/logbook/services/storenode",
		"-ldflags", "-X github.com/logbookdb/logbook/services/storenode/node.supportOverride=1/1")
	c := startProcCluster(t, 3, func(p *procNode) { p.bin = oldBin })
	for _, id := range chaosStores[1:] {
		if _, err := c.Client.Stores().Create(ctxT(t), id, nil); err != nil {
			t.Fatalf("create store %s: %v", id, err)
		}
	}
	waitLeadersSpread(t, c, 90*time.Second)
	wantClusterVersion(t, c, 1, 1)

	t0 := time.Now()
	loads, stopWork := startChaosLoad(t0, c)
	defer stopWork()
	time.Sleep(2 * time.Second)
	for id := uint64(1); id <= 3; id++ {
		waitSettled(t, c, 60*time.Second)
		from := time.Since(t0)
		if out, err := c.terminate(id, 30*time.Second); err != nil {
			t.Fatalf("storenode %d after SIGTERM: exit %v\n%s", id, err, lastLines(out, 20))
		}
		exited := time.Since(t0)
		c.node(id).bin = ""
		c.restart(id)
		c.waitReady(id)
		t.Logf("node %d upgraded: SIGTERM at %s, exited at %s, ready on the new build at %s", id, ms(from), ms(exited), ms(time.Since(t0)))
		time.Sleep(time.Second)
	}
	wantClusterVersion(t, c, 3, 3)
	time.Sleep(2 * time.Second)
	// The append each writer has in flight when the load stops ends
	// cancelled, its outcome unknown: not an error of the upgrade's.
	stopAt := int64(time.Since(t0)) - int64(time.Second)
	stopWork()

	checkChaosLoads(t, loads)
	for _, l := range loads {
		appends, unknown := 0, 0
		for _, op := range l.h.ops {
			if in := op.Input.(chInput); in.Append {
				appends++
				if op.Output.(chOutput).Kind == outUnknown && op.Call < stopAt {
					unknown++
				}
			}
		}
		t.Logf("store %s: %d appends, %d acknowledged", l.id, appends, len(l.h.acked))
		if unknown > 0 {
			t.Errorf("store %s: %d appends ended in an error the client saw (after its retries) during the rolling upgrade", l.id, unknown)
		}
	}
}

// wantClusterVersion waits until the cluster view shows the active
// cluster version store/meta.
func wantClusterVersion(t *testing.T, c *procCluster, store, meta uint32) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		if cv := v.ClusterVersion; cv == nil || cv.StoreCommand != store || cv.MetaCommand != meta {
			return fmt.Errorf("cluster version %+v, want store %d, meta %d", cv, store, meta)
		}
		return nil
	})
}

package tests

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// The cluster version gate, with a mixed-version cluster built from two
// builds of this tree: nodes 1 and 2 run this build (store and registry
// command version 3: backup restore at 2, quotas at 3), node 3 a build that
// reports and enforces version 1, as a storenode released before restore
// would. While node 3 runs the old build, the cluster stays at version 1: a
// restore (a version-2 command), a store created with a quota and a quota
// change (version 3) are refused with nothing written; once node 3 runs
// the new build the version rises by itself, the restore works, every
// replica holds the same restored store, and quotas are enforced; after
// that the old build is refused on its data: the version never moves down.
func TestClusterVersionGate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs storenode processes")
	}
	oldBin := buildBinary(t, "github.com/logbookdb/logbook/services/storenode",
		"-ldflags", "-X github.com/logbookdb/logbook/services/storenode/node.supportOverride=1/1")
	c := startProcCluster(t, 3, func(p *procNode) {
		if p.id == 3 {
			p.bin = oldBin
		}
	})
	ctx := ctxT(t)
	wantClusterVersion(t, c, 1, 1)
	v, err := c.Client.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range v.Nodes {
		want := uint32(3)
		if n.ID == 3 {
			want = 1
		}
		if n.StoreCommandVersion != want || n.MetaCommandVersion != want {
			t.Fatalf("node %d supports store %d, meta %d; want %d", n.ID, n.StoreCommandVersion, n.MetaCommandVersion, want)
		}
	}

	// Something to back up (a backup writes nothing: it needs no version).
	for i := range 5 {
		if _, err := c.Client.Store("default").Append(ctx, "gate", client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	if _, err := c.Client.Store("default").Backup(ctx, &file, nil); err != nil {
		t.Fatalf("backup: %v", err)
	}

	// Holding the version back is itself a version-2 registry change.
	hold := true
	if _, err := c.Client.ClusterVersion(ctx, &hold); !errors.Is(err, codes.ErrVersionNotActive) {
		t.Fatalf("cluster.version hold at version 1: %v, want version_not_active", err)
	}

	// Mixed versions: the restore is refused, and no store is left.
	_, err = c.Client.Stores().Restore(ctx, bytes.NewReader(file.Bytes()), "restored", client.RestoreOptions{})
	if !errors.Is(err, codes.ErrVersionNotActive) {
		t.Fatalf("restore in a mixed-version cluster: %v, want version_not_active", err)
	}
	if _, err := c.Client.Stores().Status(ctx, "restored"); !errors.Is(err, client.ErrStoreNotFound) {
		t.Fatalf("a refused restore left a store behind: %v", err)
	}

	// Quotas are version 3 (store and registry): refused, nothing created.
	if _, err := c.Client.Stores().Create(ctx, "quota", &client.StoreSettings{MaxEvents: i64(1)}); !errors.Is(err, codes.ErrVersionNotActive) {
		t.Fatalf("create with a quota in a mixed-version cluster: %v, want version_not_active", err)
	}
	if _, err := c.Client.Stores().Status(ctx, "quota"); !errors.Is(err, client.ErrStoreNotFound) {
		t.Fatalf("a refused create with a quota left a store behind: %v", err)
	}
	if _, err := c.Client.Stores().SetQuota(ctx, "default", i64(1), nil); !errors.Is(err, codes.ErrVersionNotActive) {
		t.Fatalf("set_quota in a mixed-version cluster: %v, want version_not_active", err)
	}
	if cfg, err := c.Client.Stores().Config(ctx, "default"); err != nil || cfg.MaxEvents != 0 {
		t.Fatalf("a refused set_quota changed the config: %+v, %v", cfg, err)
	}

	// Upgrade node 3: the version rises by itself, and the restore works.
	c.terminate(3, 30*time.Second)
	c.node(3).bin = ""
	c.restart(3)
	c.waitReady(3)
	wantClusterVersion(t, c, 3, 3)
	if _, err := c.Client.Stores().Restore(ctx, bytes.NewReader(file.Bytes()), "restored", client.RestoreOptions{}); err != nil {
		t.Fatalf("restore once every node supports it: %v", err)
	}
	page, err := c.Client.Store("restored").Read(ctx, "gate", client.ReadOptions{})
	if err != nil || len(page.Events) != 5 {
		t.Fatalf("restored store: %d events, %v", len(page.Events), err)
	}
	// Every replica applied the same: the same events, at the same index.
	eventually(t, 20*time.Second, func() error {
		var seen []string
		for id := uint64(1); id <= 3; id++ {
			fams := scrape(t, c.node(id).http)
			seen = append(seen, fmt.Sprintf("node %d: %v events, applied %v", id,
				value(fams, "logbook_store_events", "store", "restored"), value(fams, "logbook_store_applied_index", "store", "restored")))
		}
		if seen[0][8:] != seen[1][8:] || seen[1][8:] != seen[2][8:] || !strings.Contains(seen[0], ": 5 events") {
			return fmt.Errorf("replicas differ: %v", seen)
		}
		return nil
	})

	// Quotas work at version 3.
	if _, err := c.Client.Stores().Create(ctx, "quota", &client.StoreSettings{MaxEvents: i64(1)}); err != nil {
		t.Fatalf("create with a quota at version 3: %v", err)
	}
	if _, err := c.Client.Store("quota").Append(ctx, "q", client.Any, ev("E", "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.Store("quota").Append(ctx, "q", client.Any, ev("E", "2")); !errors.Is(err, client.ErrQuotaExceeded) {
		t.Fatalf("past the quota at version 3: %v, want quota_exceeded", err)
	}

	// The version never moves down: the old build is refused on its data.
	c.terminate(2, 30*time.Second)
	c.node(2).bin = oldBin
	c.restart(2)
	out, err := c.exited(2, 30*time.Second)
	if err == nil || !strings.Contains(out, "cluster runs at version") {
		t.Fatalf("an old build on a cluster at version 2: exit %v, log:\n%s", err, out)
	}
	// Nor may an old build join afresh: it is refused before it is added.
	c.launch(&procNode{id: 4, dir: t.TempDir(), raft: freeAddr(t), http: freeAddr(t), bin: oldBin})
	out, err = c.exited(4, 30*time.Second)
	if err == nil || !strings.Contains(out, "cluster runs at version") {
		t.Fatalf("an old build joining a cluster at version 2: exit %v, log:\n%s", err, out)
	}
	var ce *wire.ClusterVersion
	if v, err := c.Client.View(ctx); err == nil {
		ce = v.ClusterVersion
	}
	if ce == nil || ce.StoreCommand != 3 {
		t.Fatalf("cluster version after an old node came back: %+v", ce)
	}
}

// cluster.version holds the version back: with every node on a build that
// supports more (a "newer" build of this tree claiming version 4), the
// version stays while held and rises once released.
func TestClusterVersionHold(t *testing.T) {
	if testing.Short() {
		t.Skip("runs storenode processes")
	}
	newer := buildBinary(t, "github.com/logbookdb/logbook/services/storenode",
		"-ldflags", "-X github.com/logbookdb/logbook/services/storenode/node.supportOverride=4/4")
	c := startProcCluster(t, 3)
	ctx := ctxT(t)
	wantClusterVersion(t, c, 3, 3)
	hold := true
	v, err := c.Client.ClusterVersion(ctx, &hold)
	if err != nil || !v.Held || v.Active.StoreCommand != 3 {
		t.Fatalf("hold: %+v, %v", v, err)
	}
	for id := uint64(1); id <= 3; id++ {
		if out, err := c.terminate(id, 30*time.Second); err != nil {
			t.Fatalf("storenode %d after SIGTERM: %v\n%s", id, err, lastLines(out, 20))
		}
		c.node(id).bin = newer
		c.restart(id)
		c.waitReady(id)
	}
	eventually(t, 20*time.Second, func() error {
		v, err := c.Client.ClusterVersion(ctx, nil)
		if err != nil {
			return err
		}
		if s := v.Supported; s == nil || s.StoreCommand != 4 || s.MetaCommand != 4 {
			return fmt.Errorf("supported %+v", s)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // three heartbeats, each a chance to raise it
	if v, err := c.Client.ClusterVersion(ctx, nil); err != nil || !v.Held || v.Active.StoreCommand != 3 || v.Active.MetaCommand != 3 {
		t.Fatalf("a held version moved: %+v, %v", v, err)
	}
	release := false
	if v, err := c.Client.ClusterVersion(ctx, &release); err != nil || v.Held {
		t.Fatalf("release: %+v, %v", v, err)
	}
	wantClusterVersion(t, c, 4, 4)
}

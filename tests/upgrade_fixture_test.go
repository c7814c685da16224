package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/storenode/datadir"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// A data directory written by an earlier release (the fixture of
// testdata/make-datadir-fixture.sh: the last landed build before the
// FORMAT file and the cluster version) opens with this build: its format
// is recorded, its stores and events read back as they were written, the
// deleted stream stays deleted, it takes new writes, its cluster version
// rises from the base to this build's, and its stores' usage (which that
// build did not count) is counted from the stored events, so a quota set
// on it afterwards holds exactly.
func TestOldDataDirectoryOpens(t *testing.T) {
	site := newProcSite(t)
	site.raft = "127.0.83.1:7100" // the fixture node's Raft address (dragonboat records it)
	if out, err := exec.Command("tar", "-xzf", filepath.Join("testdata", "datadir-10525ff.tar.gz"), "-C", site.dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack the fixture: %v\n%s", err, out)
	}
	nodeDir := filepath.Join(site.dir, "storenode") // the all-in-one logbook's storenode
	if _, err := os.Stat(filepath.Join(nodeDir, "FORMAT")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the fixture already has a FORMAT file: %v", err)
	}
	site.start()
	c := site.connect()
	ctx := ctxT(t)

	if f, _ := formatFile(t, nodeDir); f != datadir.Format {
		t.Fatalf("format recorded %d, want %d", f, datadir.Format)
	}
	types := func(store, stream string) []string {
		t.Helper()
		page, err := c.Store(store).Read(ctx, stream, client.ReadOptions{})
		if err != nil {
			t.Fatalf("read %s/%s: %v", store, stream, err)
		}
		var out []string
		for _, ev := range page.Events {
			out = append(out, ev.Type)
		}
		return out
	}
	if got := types("default", "orders-1"); len(got) != 3 || got[0] != "Placed" || got[2] != "Shipped" {
		t.Fatalf("orders-1: %v", got)
	}
	if _, err := c.Store("default").Read(ctx, "orders-2", client.ReadOptions{}); !errors.Is(err, client.ErrStreamDeleted) {
		t.Fatalf("the deleted stream: %v", err)
	}
	if got := types("second", "s-1"); len(got) != 1 || got[0] != "Noted" {
		t.Fatalf("second/s-1: %v", got)
	}
	// Each store's own database was migrated into the node's one engine
	// and its old directory removed.
	for _, store := range []string{"default", "second"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "stores", store)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("store %s: its old directory is still there after the migration: %v", store, err)
		}
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "engine")); err != nil {
		t.Fatalf("no shared engine: %v", err)
	}
	res, err := c.Store("default").Append(ctx, "orders-1", client.Exact(2), ev("Delivered", "4"))
	if err != nil || res.FirstRevision != 3 || res.FirstPosition != 5 {
		t.Fatalf("append after the upgrade: %+v, %v", res, err)
	}
	eventually(t, 20*time.Second, func() error {
		v, err := c.View(ctx)
		if err != nil {
			return err
		}
		if cv := v.ClusterVersion; cv == nil || cv.StoreCommand < 3 || cv.MetaCommand < 3 {
			return errors.New("the cluster version has not risen yet")
		}
		return nil
	})

	// Usage: every event stored, the deleted stream's included, with its bytes.
	all, err := c.Store("default").ReadAll(ctx, client.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	for _, e := range all.Events {
		bytes += sm.EventBytes(e.Stream, e.Type, e.Data, e.Metadata, e.DataContentType, e.MetadataContentType)
	}
	if len(all.Events) != 6 {
		t.Fatalf("the default store holds %d events, want 6", len(all.Events))
	}
	eventually(t, 20*time.Second, func() error {
		s, err := c.Stores().Status(ctx, "default")
		if err != nil {
			return err
		}
		if u := s.Usage; u == nil || u.Events != 6 || u.Bytes != bytes {
			return fmt.Errorf("usage %+v, want 6 events, %d bytes", u, bytes)
		}
		return nil
	})
	if _, err := c.Stores().SetQuota(ctx, "default", nil, i64(int64(bytes)+1)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Store("default").Append(ctx, "orders-1", client.Any, ev("Returned", "5"))
	if !errors.Is(err, client.ErrQuotaExceeded) {
		t.Fatalf("append past a quota one byte above the old data: %v, want quota_exceeded", err)
	}
}

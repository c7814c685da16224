package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/storenode/datadir"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Upgrades (issue 15): the data directory records its format, and every
// node reports the versions it supports.

// formatFile reads a data directory's format file.
func formatFile(t *testing.T, dir string) (format int, writtenBy string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, datadir.FileName))
	if err != nil {
		t.Fatalf("format file: %v", err)
	}
	var rec struct {
		Format    int    `json:"format"`
		WrittenBy string `json:"written_by"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("format file %s: %v", b, err)
	}
	return rec.Format, rec.WrittenBy
}

// readCount reads a stream back and returns how many events it holds.
func readCount(t *testing.T, c *client.Client, stream string) int {
	t.Helper()
	var page *client.StreamPage
	eventually(t, 20*time.Second, func() (err error) {
		page, err = c.Store("default").Read(ctxT(t), stream, client.ReadOptions{})
		return err
	})
	return len(page.Events)
}

// A storenode process records the format of a fresh data directory and of
// one from before the format file (raft/ but no FORMAT), and keeps serving
// its data; it refuses a directory of a newer format, exiting non-zero with
// a message naming both formats, and leaves that directory alone.
func TestDataFormatRecordedAndRefused(t *testing.T) {
	c := startProcCluster(t, 1)
	dir := c.node(1).dir
	if f, by := formatFile(t, dir); f != datadir.Format || by == "" {
		t.Fatalf("fresh directory recorded format %d by %q", f, by)
	}
	eventually(t, 10*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		n := v.Nodes[0]
		if n.DataFormat != datadir.Format || n.StoreCommandVersion != sm.MaxCommandVersion || n.MetaCommandVersion != meta.MaxCommandVersion {
			return fmt.Errorf("node versions %+v", n)
		}
		return nil
	})
	appendSome(t, c.Client, "kept", 3)

	// A directory without the format file is taken for format 1 and
	// upgraded: this build's format is recorded.
	c.kill9(1)
	if err := os.Remove(filepath.Join(dir, datadir.FileName)); err != nil {
		t.Fatal(err)
	}
	c.restart(1)
	c.waitReady(1)
	if f, _ := formatFile(t, dir); f != datadir.Format {
		t.Fatalf("pre-existing directory recorded as format %d", f)
	}
	if n := readCount(t, c.Client, "kept"); n != 3 {
		t.Fatalf("read %d events back after the upgrade, want 3", n)
	}

	// A directory of a format this build does not know.
	c.kill9(1)
	newer := `{"format": 99, "written_by": "v99.0.0"}`
	if err := os.WriteFile(filepath.Join(dir, datadir.FileName), []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	c.restart(1)
	stderr, exit := c.exited(1, 20*time.Second)
	want := []string{"has format 99", "v99.0.0", fmt.Sprintf("supports formats up to %d", datadir.Format), "docs/operations.md"}
	for _, w := range want {
		if exit == nil || !strings.Contains(stderr, w) {
			t.Fatalf("storenode on a format-99 directory: exit %v, stderr does not say %q:\n%s", exit, w, stderr)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, datadir.FileName)); string(b) != newer {
		t.Fatalf("the refused directory's format file became %s", b)
	}

	// Put back, the directory serves again.
	if err := os.Remove(filepath.Join(dir, datadir.FileName)); err != nil {
		t.Fatal(err)
	}
	c.restart(1)
	c.waitReady(1)
	if n := readCount(t, c.Client, "kept"); n != 3 {
		t.Fatalf("read %d events back, want 3", n)
	}
	appendSome(t, c.Client, "after", 1)
}

// lbctl cluster view shows each node's versions, as text and as JSON.
func TestLbctlClusterViewVersions(t *testing.T) {
	in := startForLbctl(t)
	eventually(t, 10*time.Second, func() error {
		v, err := in.Client.View(ctxT(t))
		if err != nil || len(v.Nodes) != 1 || v.Nodes[0].DataFormat == 0 {
			return fmt.Errorf("view %+v, %v", v, err)
		}
		return nil
	})
	out := lbctl(t, in, "cluster", "view")
	wantContains(t, "lbctl cluster view", out, "VERSION", "CMD STORE/META", "FORMAT",
		fmt.Sprintf("%d/%d", sm.MaxCommandVersion, meta.MaxCommandVersion))
	nodes, _ := lbctlJSON(t, in, "cluster", "view")["nodes"].([]any)
	if len(nodes) != 1 {
		t.Fatalf("nodes %v", nodes)
	}
	n, _ := nodes[0].(map[string]any)
	if n["data_format"] != float64(datadir.Format) || n["store_command_version"] != float64(sm.MaxCommandVersion) ||
		n["meta_command_version"] != float64(meta.MaxCommandVersion) || n["version"] == "" {
		t.Fatalf("node in --json: %v", n)
	}
}

package datadir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readRecord(t *testing.T, dir string) record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return rec
}

func TestPrepareFreshDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, err := Prepare(dir, "v1.2.3")
	if err != nil || out != Created {
		t.Fatalf("Prepare: %v, %v; want created", out, err)
	}
	if rec := readRecord(t, dir); rec != (record{Format: Format, WrittenBy: "v1.2.3"}) {
		t.Fatalf("recorded %+v", rec)
	}
	// Started again, by another version: nothing to do, the file stays.
	out, err = Prepare(dir, "v1.2.4")
	if err != nil || out != Current {
		t.Fatalf("Prepare again: %v, %v; want current", out, err)
	}
	if rec := readRecord(t, dir); rec.WrittenBy != "v1.2.3" {
		t.Fatalf("the file was rewritten: %+v", rec)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %v, want only %s (no temporary file left)", entries, FileName)
	}
}

func TestPrepareDirectoryFromBeforeTheFormatFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := Prepare(dir, "dev")
	if err != nil || out != Upgraded {
		t.Fatalf("Prepare: %v, %v; want upgraded", out, err)
	}
	if rec := readRecord(t, dir); rec.Format != Format || rec.WrittenBy != "dev" {
		t.Fatalf("recorded %+v", rec)
	}
}

// Format 1 recorded (by a build before the shared engine) is upgraded to
// format 2: the stores migrate as they open.
func TestPrepareFormat1(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"format": 1, "written_by": "v0.9.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Prepare(dir, "dev")
	if err != nil || out != Upgraded {
		t.Fatalf("Prepare: %v, %v; want upgraded", out, err)
	}
	if rec := readRecord(t, dir); rec.Format != 2 || rec.WrittenBy != "dev" {
		t.Fatalf("recorded %+v", rec)
	}
}

func TestPrepareRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"newer", `{"format": 99, "written_by": "v9.0.0"}`, []string{"format 99", "v9.0.0", "up to 2", "docs/operations.md"}},
		{"zero", `{"format": 0}`, []string{"format 0"}},
		{"garbage", `not json`, []string{"not a format file", "docs/operations.md"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Prepare(dir, "v1.0.0")
			if err == nil {
				t.Fatal("Prepare accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(dir, FileName)); string(b) != tc.file {
				t.Errorf("the file was changed to %s", b)
			}
		})
	}
}

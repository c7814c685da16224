package benchkit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIntList(t *testing.T) {
	if l, err := IntList("-clients", "1, 64,8"); err != nil || !slices.Equal(l, []int{1, 64, 8}) {
		t.Fatalf("IntList: %v %v", l, err)
	}
	for _, bad := range []string{"", "1,0", "x", "1,,2", "-3"} {
		if _, err := IntList("-clients", bad); err == nil || !strings.HasPrefix(err.Error(), "-clients: ") {
			t.Errorf("IntList(%q): %v", bad, err)
		}
	}
}

func TestWorkDir(t *testing.T) {
	given := filepath.Join(t.TempDir(), "a", "b")
	dir, remove, err := WorkDir(given, "x-")
	remove()
	if err != nil || dir != given {
		t.Fatalf("WorkDir(%s): %s %v", given, dir, err)
	}
	if _, err := os.Stat(given); err != nil {
		t.Fatalf("the given directory was not created, or was removed: %v", err)
	}
	dir, remove, err = WorkDir("", "benchkit-test-")
	if err != nil || !strings.HasPrefix(filepath.Base(dir), "benchkit-test-") {
		t.Fatalf("WorkDir(\"\"): %s %v", dir, err)
	}
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the temporary directory is still there: %v", err)
	}
}

func TestCheckAppendRun(t *testing.T) {
	if err := CheckAppendRun("both", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := CheckAppendRun("nats", time.Second); err == nil || !strings.HasPrefix(err.Error(), "-only: ") {
		t.Fatalf("-only nats: %v", err)
	}
	if err := CheckAppendRun("logbook", 0); err == nil || err.Error() != "-duration must be positive" {
		t.Fatalf("-duration 0: %v", err)
	}
}

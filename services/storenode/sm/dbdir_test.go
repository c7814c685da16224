package sm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/logbookdb/logbook/pkg/wire"
)

// A store directory that lost its CURRENT file, or whose CURRENT names a
// missing database, is refused: never silently replaced by an empty store,
// never deleted.
func TestOpenRefusesBrokenDirectory(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir)
	if _, err := s.Update(nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	os.Rename(filepath.Join(dir, "CURRENT"), filepath.Join(dir, "CURRENT.bak"))
	if _, err := New(dir, wire.Limits{}).Open(nil); err == nil {
		t.Fatal("opened a store without CURRENT while db-1 exists")
	}
	if _, err := os.Stat(filepath.Join(dir, "db-1")); err != nil {
		t.Fatalf("db-1 was removed: %v", err)
	}

	os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("db-7\n"), 0o644)
	if _, err := New(dir, wire.Limits{}).Open(nil); err == nil {
		t.Fatal("opened a store whose CURRENT names a missing database")
	}
	os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("\n"), 0o644)
	if _, err := New(dir, wire.Limits{}).Open(nil); err == nil {
		t.Fatal("opened a store with an empty CURRENT")
	}

	os.Rename(filepath.Join(dir, "CURRENT.bak"), filepath.Join(dir, "CURRENT"))
	s, _ = open(t, dir)
	s.Close()
}

package sm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble"
)

// dbDir manages the database directories of one store:
//
//	<root>/CURRENT     name of the live database directory
//	<root>/db-<n>/     a Pebble database
//
// Recovering from a snapshot builds db-<n+1> beside the live one and switches
// CURRENT by rename, so there is never a moment without a whole database.
type dbDir struct {
	root    string
	current string
}

func (d *dbDir) open() (*pebble.DB, error) {
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return nil, fmt.Errorf("sm: %w", err)
	}
	cur, err := os.ReadFile(filepath.Join(d.root, "CURRENT"))
	switch {
	case os.IsNotExist(err):
		// A new store, unless databases are lying around without CURRENT
		// (a partial restore): then refuse rather than guess or delete.
		if dbs := d.databases(); len(dbs) > 0 {
			return nil, fmt.Errorf("sm: %s has databases %v but no CURRENT file; restore CURRENT or remove them", d.root, dbs)
		}
		d.current = "db-1"
		if err := d.writeCurrent(d.current); err != nil {
			return nil, err
		}
		return openPebble(filepath.Join(d.root, d.current), false)
	case err != nil:
		return nil, fmt.Errorf("sm: %w", err)
	}
	d.current = strings.TrimSpace(string(cur))
	if !strings.HasPrefix(d.current, "db-") || strings.ContainsAny(d.current, "/\\") {
		return nil, fmt.Errorf("sm: %s/CURRENT names %q, not a database directory", d.root, d.current)
	}
	// The database CURRENT names must exist: never start an empty store
	// in place of a missing one.
	db, err := openPebble(filepath.Join(d.root, d.current), true)
	if err != nil {
		return nil, err
	}
	d.cleanStale()
	return db, nil
}

func openPebble(path string, mustExist bool) (*pebble.DB, error) {
	db, err := pebble.Open(path, &pebble.Options{ErrorIfNotExists: mustExist})
	if err != nil {
		return nil, fmt.Errorf("sm: open %s: %w", path, err)
	}
	return db, nil
}

func (d *dbDir) databases() []string {
	var out []string
	entries, _ := os.ReadDir(d.root)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "db-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// create makes a new, empty database directory next to the current one.
func (d *dbDir) create() (*pebble.DB, string, error) {
	var n int
	fmt.Sscanf(d.current, "db-%d", &n)
	name := fmt.Sprintf("db-%d", n+1)
	os.RemoveAll(filepath.Join(d.root, name))
	db, err := openPebble(filepath.Join(d.root, name), false)
	return db, name, err
}

func (d *dbDir) switchTo(name string) error {
	if err := d.writeCurrent(name); err != nil {
		return err
	}
	d.current = name
	return nil
}

func (d *dbDir) writeCurrent(name string) error {
	tmp := filepath.Join(d.root, "CURRENT.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("sm: %w", err)
	}
	if _, err := f.WriteString(name + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("sm: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sm: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(d.root, "CURRENT")); err != nil {
		return fmt.Errorf("sm: %w", err)
	}
	dir, err := os.Open(d.root)
	if err != nil {
		return fmt.Errorf("sm: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sm: %w", err)
	}
	return nil
}

func (d *dbDir) remove(name string) {
	if name != "" && name != d.current {
		os.RemoveAll(filepath.Join(d.root, name))
	}
}

// cleanStale removes database directories left by an interrupted recovery.
// It runs only after the current database opened.
func (d *dbDir) cleanStale() {
	for _, name := range d.databases() {
		if name != d.current {
			os.RemoveAll(filepath.Join(d.root, name))
		}
	}
}

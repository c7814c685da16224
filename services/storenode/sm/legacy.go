package sm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble"
)

// Until data-directory format 2 every store replica had a Pebble database
// of its own:
//
//	stores/<id>/CURRENT     name of the live database directory
//	stores/<id>/db-<n>/     a Pebble database, store keys without prefix
//
// Open migrates such a directory into the shared engine: it copies every
// key under the replica's prefix in batches (after deleting whatever an
// interrupted migration left in the range), writes keyMigrated last, in an
// fsynced batch, and only then removes the old directory; the marker goes
// once the directory is gone. A crash before the marker leaves the old
// directory whole and the migration starts again; a crash after it leaves a
// complete range, and the old directory is removed at the next Open.
var keyMigrated = []byte("\x00migrated")

// migrateHook, if set (tests), runs after the keys are copied and before the
// marker is written; an error stops the migration there, as a crash would.
var migrateHook func() error

func (s *StateMachine) migrateLegacy() error {
	root := s.legacy
	if root == "" {
		return nil
	}
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return s.clearMigrated()
	}
	snap := s.snapshot()
	_, done, err := get(snap, keyMigrated)
	snap.Close()
	if err != nil {
		return err
	}
	if !done {
		path, err := legacyDatabase(root)
		if err != nil {
			return err
		}
		if path != "" {
			if err := s.copyLegacy(path); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("sm: remove the migrated directory %s: %w", root, err)
	}
	if err := syncDir(filepath.Dir(root)); err != nil {
		return err
	}
	return s.clearMigrated()
}

// legacyDatabase returns the live database of an old store directory, or ""
// for a directory without any (nothing to migrate). A directory with
// databases but no CURRENT, or whose CURRENT is not a database, is refused
// rather than guessed at or deleted.
func legacyDatabase(root string) (string, error) {
	cur, err := os.ReadFile(filepath.Join(root, "CURRENT"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		var dbs []string
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "db-") {
				dbs = append(dbs, e.Name())
			}
		}
		if len(dbs) > 0 {
			return "", fmt.Errorf("sm: %s has databases %v but no CURRENT file; restore CURRENT or remove them", root, dbs)
		}
		return "", nil
	case err != nil:
		return "", fmt.Errorf("sm: %w", err)
	}
	name := strings.TrimSpace(string(cur))
	if !strings.HasPrefix(name, "db-") || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("sm: %s/CURRENT names %q, not a database directory", root, name)
	}
	path := filepath.Join(root, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("sm: %s/CURRENT names %s: %w", root, name, err)
	}
	return path, nil
}

// copyLegacy copies an old database into the replica's range and writes
// keyMigrated, fsynced, after the last key.
func (s *StateMachine) copyLegacy(path string) error {
	old, err := pebble.Open(path, &pebble.Options{ErrorIfNotExists: true})
	if err != nil {
		return fmt.Errorf("sm: open %s to migrate it: %w", path, err)
	}
	defer old.Close()
	db := s.eng.db
	b := &kvBatch{b: db.NewBatch(), sp: s.sp}
	defer func() { b.b.Close() }()
	// Whatever an interrupted migration copied goes first.
	if err := b.b.DeleteRange(s.sp.lo, s.sp.hi, nil); err != nil {
		return fmt.Errorf("sm: migrate %s: %w", path, err)
	}
	it := old.NewIter(nil)
	for ok := it.First(); ok; ok = it.Next() {
		b.Set(it.Key(), it.Value(), nil)
		if b.b.Len() > 16<<20 {
			if err := b.b.Commit(pebble.NoSync); err != nil {
				it.Close()
				return fmt.Errorf("sm: migrate %s: %w", path, err)
			}
			b.b.Close()
			b.b = db.NewBatch()
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("sm: migrate %s: %w", path, err)
	}
	if migrateHook != nil {
		if err := migrateHook(); err != nil {
			return err
		}
	}
	b.Set(keyMigrated, nil, nil)
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("sm: migrate %s: %w", path, err)
	}
	return nil
}

// clearMigrated deletes keyMigrated once the old directory is gone.
func (s *StateMachine) clearMigrated() error {
	snap := s.snapshot()
	_, ok, err := get(snap, keyMigrated)
	snap.Close()
	if err != nil || !ok {
		return err
	}
	b := &kvBatch{b: s.eng.db.NewBatch(), sp: s.sp}
	defer b.b.Close()
	b.Delete(keyMigrated, nil)
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("sm: clear the migration marker: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sm: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sm: sync %s: %w", dir, err)
	}
	return nil
}

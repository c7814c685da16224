// Package datadir records and checks the format version of a storenode's
// data directory: the file FORMAT at its root, written when the node first
// initialises the directory and checked at every start, before Raft opens
// it. A directory of a newer format than this build supports is refused; an
// older one is upgraded in place. See docs/operations.md (Upgrading).
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/logbookdb/logbook/services/storenode/internal/durable"
)

// Format is the data-directory format this build writes and reads: the
// layout of raft/ and stores/ and of the files in them. Raise it with a
// change that an older build could not read, and make Prepare upgrade a
// directory of the previous format in place (or refuse it, saying which
// procedure of docs/operations.md to follow).
//
// Format 1 is the layout of every build before the FORMAT file existed: a
// directory without the file but with data in it is format 1. In it each
// store replica had a Pebble database of its own, stores/<id>/db-<n>/.
//
// Format 2 keeps every store replica of the node in one Pebble engine,
// engine/, under a per-replica key prefix. A format 1 directory is upgraded
// by recording format 2: each store's old directory is migrated into the
// engine (and removed) when its replica first opens (sm/legacy.go), and an
// older build refuses the directory from then on.
const Format = 2

// FileName is the name of the format file in the data directory.
const FileName = "FORMAT"

// record is the content of the format file.
type record struct {
	Format    int    `json:"format"`
	WrittenBy string `json:"written_by"` // the version of the storenode that wrote it
}

// Outcome says what Prepare found and did.
type Outcome int

const (
	Current Outcome = iota // the directory is of this build's format
	Created                // a fresh directory: the format recorded
	// Upgraded: a directory of an older format, upgraded in place: format 1
	// (raft/ without FORMAT, or FORMAT saying 1), whose upgrade is recording
	// format 2 (the stores migrate as they open).
	Upgraded
)

func (o Outcome) String() string {
	return [...]string{"current", "created", "upgraded"}[o]
}

// Prepare makes dir ready for this build (version is its version, recorded
// in the file): it creates a missing directory, records the format of a
// fresh one, upgrades an older one in place, and refuses a newer one (or an
// unreadable file) with an error saying why.
func Prepare(dir, version string) (Outcome, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("data directory %s: %w", dir, err)
	}
	rec, err := read(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !hasData(dir) {
			return Created, write(dir, record{Format: Format, WrittenBy: version})
		}
		// A directory from before the format file: format 1.
		return Upgraded, write(dir, record{Format: Format, WrittenBy: version})
	case err != nil:
		return 0, err
	case rec.Format > Format:
		return 0, fmt.Errorf("data directory %s has format %d (written by storenode %s); this storenode (%s) supports formats up to %d: "+
			"run a storenode that supports format %d on it (see Upgrading in docs/operations.md)",
			dir, rec.Format, rec.WrittenBy, version, Format, rec.Format)
	case rec.Format == 1:
		return Upgraded, write(dir, record{Format: Format, WrittenBy: version})
	case rec.Format < 1:
		return 0, fmt.Errorf("data directory %s: %s says format %d, which no storenode writes", dir, FileName, rec.Format)
	}
	return Current, nil
}

// hasData reports whether dir holds a storenode's data (its Raft logs).
func hasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "raft"))
	return err == nil
}

func read(dir string) (record, error) {
	var rec record
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return rec, err // fs.ErrNotExist: no format file
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("data directory %s: %s is not a format file (%w): restore it or see docs/operations.md", dir, FileName, err)
	}
	return rec, nil
}

// write replaces the format file atomically and durably: a crash leaves
// either the old file or the new one.
func write(dir string, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(dir, FileName, append(b, '\n')); err != nil {
		return fmt.Errorf("record the data format: %w", err)
	}
	return nil
}

// Package durable writes small files so that they survive a crash whole:
// the storenode's formation promise and data-format record.
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces dir/name with data atomically and durably: it writes
// dir/name.tmp, fsyncs it, renames it over dir/name and fsyncs dir, so that
// a crash at any point leaves either the old file or the new one. Any
// failure, including a short write or a failed fsync, is an error and
// leaves dir/name as it was.
func WriteFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making the renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

package formation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/services/storenode/internal/durable"
)

// The formation promise (proto.BootLock) is kept in bootstrap.json in the
// data directory, written before the promise is given, so that a restart
// cannot break it.

const bootFileName = "bootstrap.json"

func (f *Formation) bootPath() string { return filepath.Join(f.cfg.DataDir, bootFileName) }

// loadBootLock reads the formation promise, if any.
func (f *Formation) loadBootLock() (*proto.BootLock, error) {
	b, err := os.ReadFile(f.bootPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storenode: read %s: %w", bootFileName, err)
	}
	var l proto.BootLock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("storenode: %s is damaged (%v); if this node never joined a cluster, delete it", f.bootPath(), err)
	}
	return &l, nil
}

// saveBootLock writes the promise durably (temp file, fsync, rename, fsync
// of the directory); nil removes it.
func (f *Formation) saveBootLock(l *proto.BootLock) error {
	path := f.bootPath()
	if l == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storenode: remove %s: %w", bootFileName, err)
		}
		if err := durable.SyncDir(f.cfg.DataDir); err != nil {
			return fmt.Errorf("storenode: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("storenode: encode %s: %w", bootFileName, err)
	}
	if err := durable.WriteFile(f.cfg.DataDir, bootFileName, b); err != nil {
		return fmt.Errorf("storenode: write %s: %w", bootFileName, err)
	}
	return nil
}

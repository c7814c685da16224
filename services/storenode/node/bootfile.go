package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// bootLock is a fresh node's promise during cluster formation: it will start
// the meta shard with exactly these members, as decided by this coordinator,
// and with no other. It is written to disk before the promise is given, so a
// restart cannot break it; Committed records the coordinator's decision.
type bootLock struct {
	Coordinator uint64            `json:"coordinator" msgpack:"coordinator"`
	Members     map[uint64]string `json:"members" msgpack:"members"` // node id -> raft address
	Committed   bool              `json:"committed" msgpack:"committed"`
}

func (l *bootLock) sameAs(o *bootLock) bool {
	return l != nil && o != nil && l.Coordinator == o.Coordinator && maps.Equal(l.Members, o.Members)
}

const bootFileName = "bootstrap.json"

func (n *Node) bootPath() string { return filepath.Join(n.cfg.DataDir, bootFileName) }

// loadBootLock reads the formation promise, if any.
func (n *Node) loadBootLock() (*bootLock, error) {
	b, err := os.ReadFile(n.bootPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storenode: read %s: %w", bootFileName, err)
	}
	var l bootLock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("storenode: %s is damaged (%v); if this node never joined a cluster, delete it", n.bootPath(), err)
	}
	return &l, nil
}

// saveBootLock writes the promise durably (temp file, fsync, rename, fsync
// of the directory); nil removes it.
func (n *Node) saveBootLock(l *bootLock) error {
	path := n.bootPath()
	if l == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storenode: remove %s: %w", bootFileName, err)
		}
		return syncDir(n.cfg.DataDir)
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("storenode: encode %s: %w", bootFileName, err)
	}
	if err := os.MkdirAll(n.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("storenode: write %s: %w", bootFileName, err)
	}
	if _, err := f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storenode: write %s: %w", bootFileName, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("storenode: write %s: %w", bootFileName, err)
	}
	return syncDir(n.cfg.DataDir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storenode: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("storenode: sync %s: %w", dir, err)
	}
	return nil
}

package raft

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLogDBShardsKeepsAnExistingLayout(t *testing.T) {
	dir := t.TempDir()
	if got := logDBShards(dir, 1); got != 1 {
		t.Fatalf("new directory: %d shards", got)
	}
	for i := range 16 {
		if err := os.MkdirAll(filepath.Join(dir, "host", "00000000000000000001", "logdb-"+string(rune('a'+i))), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := logDBShards(dir, 1); got != 16 {
		t.Fatalf("directory written with 16 shards: %d", got)
	}
}

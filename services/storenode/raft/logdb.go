package raft

import (
	"path/filepath"
)

// logDBShards picks how many LogDB shards (each a Pebble instance with its
// own WAL) hold the Raft logs of every shard on this node.
//
// A new data directory gets one: every store's Raft writes then share one
// WAL and its fsyncs, which is what lets many busy stores keep the group
// commit of one (16 busy stores measured 0.54–0.70× of one store with
// dragonboat's default of 16 LogDB shards, 0.77–0.78× with one; see
// docs/benchmarks-cluster.md). A directory created with another count keeps
// it: dragonboat places a shard's log by shard id modulo the count, so
// changing it would hide logs already written.
func logDBShards(raftDir string, def uint64) uint64 {
	found, _ := filepath.Glob(filepath.Join(raftDir, "*", "*", "logdb-*"))
	if len(found) > 0 {
		return uint64(len(found))
	}
	return def
}

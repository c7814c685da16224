//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// allocated is the space a file takes on disk (its blocks), which for the
// preallocated Pebble and Raft WAL files is more than their size.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

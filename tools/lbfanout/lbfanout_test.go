package main

import (
	"testing"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// TestTinyRun runs the whole benchmark at a tiny size: both systems start,
// the replays and fan-outs check that every event arrives once and in
// order, and everything stops within the time bound.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Logbook and JetStream")
	}
	o := &options{
		events: 300, liveEvents: 200, subscribers: []int{1, 3}, writers: 2, batch: 7,
		eventSize: 16, reps: 1, page: 50, timeout: 2 * time.Minute, dir: t.TempDir(),
	}
	if err := benchkit.Exec("lbfanout", o, run); err != nil {
		t.Fatal(err)
	}
}

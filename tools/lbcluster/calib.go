package main

import (
	"os"
	"strings"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// fsyncLatency writes n 4 KiB blocks to a file in dir, fsyncing each, and
// returns the median and p99 time of write+fsync: the disk's floor under
// every durable append of either system.
func fsyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make(benchkit.Latencies, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	lat.Sort()
	return lat.Percentile(0.5), lat.Percentile(0.99), nil
}

// loadAvg is the 1-minute load average (Linux), "" elsewhere: how busy the
// shared machine was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

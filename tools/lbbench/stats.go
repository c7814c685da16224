package main

import (
	"slices"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// appendResult is the outcome of one append scenario on one system.
type appendResult struct {
	System    string `json:"system"`
	Clients   int    `json:"clients"`
	Streams   int    `json:"streams"`
	EventSize int    `json:"event_size"`
	benchkit.Throughput
	CPUPct     float64 `json:"cpu_pct"`       // process CPU during the measured phase, % of one core
	CPUPerOpUs float64 `json:"cpu_per_op_us"` // process CPU per successful append
	WarmupSec  float64 `json:"warmup_s"`      // first append to each stream, not measured
	Mismatches int     `json:"mismatches"`    // streams whose last revision differs from what the clients saw
	FirstError string  `json:"first_error,omitempty"`
}

func newAppendResult(sys string, cfg appendConfig, out benchkit.Outcome, warmup time.Duration) appendResult {
	return appendResult{
		System: sys, Clients: cfg.clients, Streams: cfg.streams, EventSize: cfg.eventSize,
		Throughput: out.Throughput(),
		WarmupSec:  warmup.Seconds(),
		FirstError: benchkit.ErrString(out.FirstError),
	}
}

// readResult is the outcome of the read benchmark on one system.
type readResult struct {
	System   string    `json:"system"`
	Events   int       `json:"events"`
	Reps     int       `json:"reps"`
	MedianUs float64   `json:"median_us"`
	MinUs    float64   `json:"min_us"`
	PerSec   float64   `json:"events_per_s"` // Events / median
	AllUs    []float64 `json:"all_us"`
}

func newReadResult(sys string, events int, times []time.Duration) readResult {
	r := readResult{System: sys, Events: events, Reps: len(times)}
	if len(times) == 0 {
		return r
	}
	m := benchkit.Median(times)
	r.MedianUs = benchkit.Us(m)
	r.MinUs = benchkit.Us(slices.Min(times))
	r.PerSec = float64(events) / m.Seconds()
	for _, t := range times {
		r.AllUs = append(r.AllUs, benchkit.Us(t))
	}
	return r
}

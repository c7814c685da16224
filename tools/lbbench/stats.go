package main

import (
	"math"
	"slices"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// latencies are the latencies of the successful operations of one run.
type latencies = benchkit.Latencies

// ratio is a/b, or NaN when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// appendResult is the outcome of one append scenario on one system.
type appendResult struct {
	System     string  `json:"system"`
	Clients    int     `json:"clients"`
	Streams    int     `json:"streams"`
	EventSize  int     `json:"event_size"`
	Ops        int     `json:"ops"`    // successful appends in the measured phase
	Errors     int     `json:"errors"` // failed appends in the measured phase
	ElapsedSec float64 `json:"elapsed_s"`
	PerSec     float64 `json:"appends_per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
	CPUPct     float64 `json:"cpu_pct"`       // process CPU during the measured phase, % of one core
	CPUPerOpUs float64 `json:"cpu_per_op_us"` // process CPU per successful append
	WarmupSec  float64 `json:"warmup_s"`      // first append to each stream, not measured
	Mismatches int     `json:"mismatches"`    // streams whose last revision differs from what the clients saw
	FirstError string  `json:"first_error,omitempty"`
}

func newAppendResult(sys string, clients, streams, size int, lat latencies, errs int, elapsed, warmup time.Duration) appendResult {
	lat.Sort()
	return appendResult{
		System: sys, Clients: clients, Streams: streams, EventSize: size,
		Ops: len(lat), Errors: errs,
		ElapsedSec: elapsed.Seconds(),
		PerSec:     float64(len(lat)) / elapsed.Seconds(),
		P50us:      us(lat.Percentile(0.50)),
		P99us:      us(lat.Percentile(0.99)),
		MaxUs:      us(lat.Percentile(1)),
		WarmupSec:  warmup.Seconds(),
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
	r.MedianUs = us(m)
	r.MinUs = us(slices.Min(times))
	r.PerSec = float64(events) / m.Seconds()
	for _, t := range times {
		r.AllUs = append(r.AllUs, us(t))
	}
	return r
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

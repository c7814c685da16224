package main

import (
	"slices"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// latencySummary summarizes the latencies of one kind of operation.
type latencySummary struct {
	Count int     `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// summarize sorts d and returns its percentiles (nearest rank).
func summarize(d []time.Duration) latencySummary {
	if len(d) == 0 {
		return latencySummary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	l := benchkit.Latencies(d)
	return latencySummary{
		Count: len(d),
		P50ms: ms(l.Percentile(0.50)),
		P90ms: ms(l.Percentile(0.90)),
		P99ms: ms(l.Percentile(0.99)),
		MaxMs: ms(d[len(d)-1]),
		Mean:  ms(sum / time.Duration(len(d))),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func mib(kib int64) float64 { return float64(kib) / 1024 }

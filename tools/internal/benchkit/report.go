package benchkit

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"
)

// Throughput is what the load tools report of one measured phase of
// appends; it is embedded in their JSON results.
type Throughput struct {
	Ops        int     `json:"ops"`    // successful appends in the measured phase
	Errors     int     `json:"errors"` // failed appends in the measured phase
	ElapsedSec float64 `json:"elapsed_s"`
	PerSec     float64 `json:"appends_per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
}

// Throughput summarizes the outcome of Run.
func (o Outcome) Throughput() Throughput {
	o.Lat.Sort()
	return Throughput{
		Ops: len(o.Lat), Errors: o.Errors,
		ElapsedSec: o.Elapsed.Seconds(),
		PerSec:     float64(len(o.Lat)) / o.Elapsed.Seconds(),
		P50us:      Us(o.Lat.Percentile(0.50)),
		P99us:      Us(o.Lat.Percentile(0.99)),
		MaxUs:      Us(o.Lat.Percentile(1)),
	}
}

// Us is d in microseconds.
func Us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// FmtUs prints microseconds as µs, ms or s.
func FmtUs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	}
	return fmt.Sprintf("%.0fµs", v)
}

// Ratio is a/b, or NaN when b is zero.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// FmtRatio prints a ratio as "1.23x", or "-" when it is not a number.
func FmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// WriteJSON writes v as indented JSON to path; with path "" (no -json
// flag) it does nothing.
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

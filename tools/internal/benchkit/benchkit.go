// Package benchkit holds what Logbook's load tools (lbbench, lbcluster,
// lbfanout, lbstores) share: the measured client loop, latency percentiles
// and free loopback addresses.
package benchkit

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"time"
)

// Latencies are the latencies of the successful operations of one run.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 < p ≤ 1) by the nearest-rank
// method; l must be sorted.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// Sort sorts l in place.
func (l Latencies) Sort() { slices.Sort(l) }

// Median returns the median of a copy of d (0 when empty).
func Median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Outcome is what a Run measured.
type Outcome struct {
	Lat        Latencies // of the successful operations, sorted
	Errors     int
	FirstError error
	Elapsed    time.Duration
}

// Run runs clients goroutines until deadline (or ctx ends); client k calls
// op(ctx, k, j) for its j-th operation and the latency of each one that
// returns nil is recorded.
func Run(ctx context.Context, clients int, deadline time.Time, op func(ctx context.Context, k, j int) error) Outcome {
	lats := make([]Latencies, clients)
	errs := make([]int, clients)
	firstErr := make([]error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make(Latencies, 0, 1<<14)
			for j := 0; ctx.Err() == nil; j++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := op(ctx, k, j); err != nil {
					errs[k]++
					if firstErr[k] == nil {
						firstErr[k] = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			lats[k] = lat
		}()
	}
	wg.Wait()
	out := Outcome{Elapsed: time.Since(start)}
	for k := range clients {
		out.Lat = append(out.Lat, lats[k]...)
		out.Errors += errs[k]
		if out.FirstError == nil {
			out.FirstError = firstErr[k]
		}
	}
	out.Lat.Sort()
	return out
}

// FreeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Appends returns a Run operation for append scenarios: client k appends
// to its streams (streams[k]) in turn, each call bounded by timeout. After a
// failed append, whose outcome may be unknown, recover asks the server where
// the stream is, so that the client's next expected revision is right.
func Appends[S any](streams [][]S, timeout time.Duration, name func(S) string,
	appendTo func(ctx context.Context, k int, s S) error, recover func(ctx context.Context, k int, s S)) func(ctx context.Context, k, j int) error {
	return func(ctx context.Context, k, j int) error {
		mine := streams[k]
		s := mine[j%len(mine)]
		octx, cancel := context.WithTimeout(ctx, timeout)
		err := appendTo(octx, k, s)
		cancel()
		if err == nil {
			return nil
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		recover(lctx, k, s)
		cancel()
		return fmt.Errorf("%s: %w", name(s), err)
	}
}

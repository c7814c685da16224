// Package benchkit holds what Logbook's load tools (lbbench, lbcluster,
// lbfanout, lbstores) share: the measured client loop, latency percentiles,
// free loopback addresses, the command-line scaffolding and report
// formatting, and the systems they compare (an embedded Logbook and an
// embedded JetStream) with their optimistic-concurrency appends.
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
		wg.Go(func() {
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
		})
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

// Appender appends to streams (S: what a client knows of one) with
// optimistic concurrency.
type Appender[S any] interface {
	// Append appends one event to s, expecting s's last revision (or no
	// stream when s does not exist yet), and records the new last revision in s.
	Append(ctx context.Context, s S, data []byte) error
	// Lookup asks the server for s's last revision.
	Lookup(ctx context.Context, s S) error
	Close()
}

// Connect opens n appenders, client k with open(k). closeAll closes those
// that were opened; call it also after an error.
func Connect[S any](n int, open func(k int) (Appender[S], error)) (clients []Appender[S], closeAll func(), err error) {
	opened := make([]Appender[S], 0, n)
	closeAll = func() {
		for _, a := range opened {
			a.Close()
		}
	}
	for k := range n {
		a, err := open(k)
		if err != nil {
			return nil, closeAll, err
		}
		opened = append(opened, a)
	}
	return opened, closeAll, nil
}

// Appends returns a Run operation for append scenarios: client k appends
// data to its streams (streams[k]) in turn, each call bounded by timeout.
// After a failed append, whose outcome may be unknown, the client looks the
// stream up, so that its next expected revision is right.
func Appends[S any](clients []Appender[S], streams [][]S, timeout time.Duration, name func(S) string, data []byte) func(ctx context.Context, k, j int) error {
	return func(ctx context.Context, k, j int) error {
		mine := streams[k]
		s := mine[j%len(mine)]
		octx, cancel := context.WithTimeout(ctx, timeout)
		err := clients[k].Append(octx, s, data)
		cancel()
		if err == nil {
			return nil
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		clients[k].Lookup(lctx, s)
		cancel()
		return fmt.Errorf("%s: %w", name(s), err)
	}
}

// WarmUp makes the first append to every stream, not measured: all[i]
// through clients[i mod len(clients)], by workers goroutines (worker w takes
// streams w, w+workers, ...), each append bounded by timeout. It returns how
// long that took.
func WarmUp[S any](ctx context.Context, clients []Appender[S], all []S, workers int, timeout time.Duration, name func(S) string, data []byte) (time.Duration, error) {
	start := time.Now()
	err := Parallel(workers, func(w int) error {
		for i := w; i < len(all); i += workers {
			octx, cancel := context.WithTimeout(ctx, timeout)
			err := clients[i%len(clients)].Append(octx, all[i], data)
			cancel()
			if err != nil {
				return fmt.Errorf("warm-up append to %s: %w", name(all[i]), err)
			}
		}
		return nil
	})
	return time.Since(start), err
}

// Parallel runs f(0..n-1) concurrently and returns the first error.
func Parallel(n int, f func(k int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() { errs[k] = f(k) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Payload is size bytes that do not compress to nothing.
func Payload(size int) []byte {
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// system is one event store under test, already started.
type system interface {
	name() string
	// streamName names stream i of an append scenario.
	streamName(scenario string, i int) string
	// newAppender opens one client with its own NATS connection.
	newAppender() (appender, error)
	// writeStream writes n events to one fresh stream, in as few requests as is natural.
	writeStream(ctx context.Context, stream string, n int, data []byte) error
	// readStream reads the whole stream once, from its start, and returns how
	// long that took and how many events arrived.
	readStream(ctx context.Context, stream string, n int) (time.Duration, int, error)
	close()
}

// appender appends to streams with optimistic concurrency.
type appender interface {
	// append appends one event to s, expecting s's last revision (or no
	// stream when !s.exists), and records the new last revision in s.
	append(ctx context.Context, s *streamState, data []byte) error
	// lookup asks the server for s's last revision.
	lookup(ctx context.Context, s *streamState) error
	close()
}

// streamState is what a client knows about one of its streams.
type streamState struct {
	name   string
	exists bool
	last   uint64 // Logbook: last revision; JetStream: stream sequence of the subject's last message
}

// appendConfig is one append scenario.
type appendConfig struct {
	clients   int
	streams   int
	eventSize int
	duration  time.Duration
	opTimeout time.Duration
	profile   string // CPU profile of the measured phase, if set
}

// runAppend runs the append workload: cfg.clients goroutines, each with its
// own connection and a disjoint share of the streams (stream i belongs to
// client i mod clients), each appending one event at a time to its streams
// round robin, expecting the stream's last revision. The first append to each
// stream (the warm-up, expecting no stream) is not measured.
func runAppend(ctx context.Context, sys system, cfg appendConfig) (appendResult, error) {
	scenario := fmt.Sprintf("c%d", cfg.clients)
	data := payload(cfg.eventSize)
	clients := make([]appender, cfg.clients)
	defer func() {
		for _, a := range clients {
			if a != nil {
				a.close()
			}
		}
	}()
	for i := range clients {
		a, err := sys.newAppender()
		if err != nil {
			return appendResult{}, fmt.Errorf("%s: connect: %w", sys.name(), err)
		}
		clients[i] = a
	}
	owned := make([][]*streamState, cfg.clients)
	all := make([]*streamState, cfg.streams)
	for i := range cfg.streams {
		s := &streamState{name: sys.streamName(scenario, i)}
		all[i] = s
		owned[i%cfg.clients] = append(owned[i%cfg.clients], s)
	}

	// Warm-up: create every stream. Bounded by ctx and the op timeout.
	warmStart := time.Now()
	err := forEachClient(cfg.clients, func(k int) error {
		for _, s := range owned[k] {
			octx, cancel := context.WithTimeout(ctx, cfg.opTimeout)
			err := clients[k].append(octx, s, data)
			cancel()
			if err != nil {
				return fmt.Errorf("%s: warm-up append to %s: %w", sys.name(), s.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return appendResult{}, err
	}
	warmup := time.Since(warmStart)

	// Measured phase.
	if cfg.profile != "" {
		f, err := os.Create(cfg.profile)
		if err != nil {
			return appendResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return appendResult{}, err
		}
	}
	cpu0 := processCPU()
	out := benchkit.Run(ctx, cfg.clients, time.Now().Add(cfg.duration), benchkit.Appends(owned, cfg.opTimeout,
		func(s *streamState) string { return s.name },
		func(ctx context.Context, k int, s *streamState) error { return clients[k].append(ctx, s, data) },
		func(ctx context.Context, k int, s *streamState) { clients[k].lookup(ctx, s) }))
	elapsed := out.Elapsed
	cpu := processCPU() - cpu0
	if cfg.profile != "" {
		pprof.StopCPUProfile()
	}
	lat, nerr := out.Lat, out.Errors
	res := newAppendResult(sys.name(), cfg.clients, cfg.streams, cfg.eventSize, lat, nerr, elapsed, warmup)
	res.CPUPct = 100 * cpu.Seconds() / elapsed.Seconds()
	if len(lat) > 0 {
		res.CPUPerOpUs = us(cpu) / float64(len(lat))
	}
	if out.FirstError != nil {
		res.FirstError = out.FirstError.Error()
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	// Check: the server agrees with every client on every stream's last revision.
	res.Mismatches, err = verify(ctx, clients[0], all, cfg.opTimeout)
	return res, err
}

// verify looks every stream up and counts those whose last revision is not
// the one the appending client saw last.
func verify(ctx context.Context, a appender, streams []*streamState, timeout time.Duration) (int, error) {
	bad := 0
	for _, s := range streams {
		got := streamState{name: s.name}
		octx, cancel := context.WithTimeout(ctx, timeout)
		err := a.lookup(octx, &got)
		cancel()
		if err != nil {
			return bad, fmt.Errorf("verify %s: %w", s.name, err)
		}
		if got != *s {
			bad++
			if bad <= 5 {
				fmt.Fprintf(os.Stderr, "mismatch on %s: server has exists=%v last=%d, client saw exists=%v last=%d\n",
					s.name, got.exists, got.last, s.exists, s.last)
			}
		}
	}
	return bad, nil
}

// forEachClient runs f(0..n-1) concurrently and returns the first error.
func forEachClient(n int, f func(k int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = f(k)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// runRead writes n events to one stream, then reads them back reps times.
func runRead(ctx context.Context, sys system, n, size, reps int) (readResult, error) {
	stream := sys.streamName("read", 0)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.writeStream(wctx, stream, n, payload(size))
	cancel()
	if err != nil {
		return readResult{}, fmt.Errorf("%s: write the read stream: %w", sys.name(), err)
	}
	var times []time.Duration
	for range reps {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, got, err := sys.readStream(rctx, stream, n)
		cancel()
		if err != nil {
			return readResult{}, fmt.Errorf("%s: read: %w", sys.name(), err)
		}
		if got != n {
			return readResult{}, fmt.Errorf("%s: read %d events, want %d", sys.name(), got, n)
		}
		times = append(times, d)
	}
	return newReadResult(sys.name(), n, times), nil
}

// payload is size bytes that do not compress to nothing.
func payload(size int) []byte {
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

package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// system is one event store under test, already started.
type system interface {
	name() string
	// streamName names stream i of an append scenario.
	streamName(scenario string, i int) string
	// newAppender opens a client with its own NATS connection.
	newAppender(k int) (appender, error)
	// writeStream writes n events to one fresh stream, in as few requests as is natural.
	writeStream(ctx context.Context, stream string, n int, data []byte) error
	// readStream reads the whole stream once, from its start, and returns how
	// long that took and how many events arrived.
	readStream(ctx context.Context, stream string, n int) (time.Duration, int, error)
	close()
}

// named gives a system its name and the names of its streams (a format of
// the scenario and the stream's number).
type named struct{ sysName, streamFormat string }

func (n named) name() string { return n.sysName }

func (n named) streamName(scenario string, i int) string {
	return fmt.Sprintf(n.streamFormat, scenario, i)
}

// appender appends to streams with optimistic concurrency.
type appender = benchkit.Appender[*streamState]

// streamState is what a client knows about one of its streams.
type streamState struct {
	name   string
	exists bool
	last   uint64 // Logbook: last revision; JetStream: stream sequence of the subject's last message
}

func nameOf(s *streamState) string { return s.name }

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
	data := benchkit.Payload(cfg.eventSize)
	owned := make([][]*streamState, cfg.clients)
	all := make([]*streamState, cfg.streams)
	for i := range cfg.streams {
		s := &streamState{name: sys.streamName(scenario, i)}
		all[i] = s
		owned[i%cfg.clients] = append(owned[i%cfg.clients], s)
	}

	clients, closeAll, err := benchkit.Connect(cfg.clients, sys.newAppender)
	defer closeAll()
	if err != nil {
		return appendResult{}, fmt.Errorf("%s: connect: %w", sys.name(), err)
	}

	// Warm-up: create every stream, each client its own.
	warmup, err := benchkit.WarmUp(ctx, clients, all, cfg.clients, cfg.opTimeout, nameOf, data)
	if err != nil {
		return appendResult{}, fmt.Errorf("%s: %w", sys.name(), err)
	}

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
	out := benchkit.Run(ctx, cfg.clients, time.Now().Add(cfg.duration), benchkit.Appends(clients, owned, cfg.opTimeout, nameOf, data))
	cpu := processCPU() - cpu0
	if cfg.profile != "" {
		pprof.StopCPUProfile()
	}
	res := newAppendResult(sys.name(), cfg, out, warmup)
	res.CPUPct = 100 * cpu.Seconds() / out.Elapsed.Seconds()
	if res.Ops > 0 {
		res.CPUPerOpUs = benchkit.Us(cpu) / float64(res.Ops)
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
		err := a.Lookup(octx, &got)
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

// runRead writes n events to one stream, then reads them back reps times.
func runRead(ctx context.Context, sys system, n, size, reps int) (readResult, error) {
	stream := sys.streamName("read", 0)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.writeStream(wctx, stream, n, benchkit.Payload(size))
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

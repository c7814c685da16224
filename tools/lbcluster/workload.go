package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/logbookdb/logbook/tools/internal/child"
)

// The append workload is lbbench's (tools/lbbench/workload.go), spread over
// several stores: N clients, each with its own NATS connection and a disjoint
// share of the streams, append one event at a time round robin over their
// streams with optimistic concurrency on the stream's last revision. Here a
// Logbook store is a JetStream stream and a Logbook stream is a subject of it.

// system is one clustered event store under test, already started.
type system interface {
	name() string
	// createStores creates the stores (JetStream: streams) of one store set,
	// replicated on 3 nodes, and waits until each has a leader.
	createStores(ctx context.Context, set storeSet) error
	// newAppender opens client k with its own NATS connection.
	newAppender(k int) (appender, error)
	// verify checks what the servers hold against what the clients saw.
	verify(ctx context.Context, streams []*streamState) (verifyResult, error)
	// procs are the system's server processes, for CPU accounting.
	procs() []*proc
	close()
}

// appender appends to streams with optimistic concurrency. It is safe for
// concurrent use on distinct streams.
type appender = benchkit.Appender[*streamState]

// storeSet is the stores of the scenarios with the same store count.
type storeSet struct {
	prefix string // "s1", "s16"
	n      int
}

func newStoreSet(n int) storeSet { return storeSet{prefix: fmt.Sprintf("s%d", n), n: n} }

// streamState is what a client knows about one of its streams.
type streamState struct {
	set    storeSet
	store  int    // index in the store set
	name   string // stream name inside the store (scenario-unique)
	exists bool
	last   uint64 // Logbook: last revision; JetStream: stream sequence of the subject's last message
	acked  int    // appends acknowledged to the client, warm-up included
}

func nameOf(s *streamState) string { return s.name }

// verifyResult is the outcome of the check after a scenario.
type verifyResult struct {
	Checked    int `json:"checked"`    // streams checked
	Events     int `json:"events"`     // events found on the servers
	Mismatches int `json:"mismatches"` // streams whose last revision is not the one the client saw
	Lost       int `json:"lost"`       // streams missing an acknowledged append (fewer events than acks, or a gap)
	Extra      int `json:"extra"`      // streams with more events than acks (appends whose outcome was unknown)
}

// scenario is one append measurement.
type scenario struct {
	round     int
	clients   int
	set       storeSet
	streams   int
	eventSize int
	duration  time.Duration
	opTimeout time.Duration
	profile   func(d time.Duration) func() // starts profiling for d; the returned func waits for it
	fsyncs    bool                         // count the servers' fsyncs with perf stat
}

func (sc scenario) tag() string { return fmt.Sprintf("r%dc%d", sc.round, sc.clients) }

// runAppend runs one scenario on sys.
func runAppend(ctx context.Context, sys system, sc scenario) (appendResult, error) {
	data := benchkit.Payload(sc.eventSize)
	clients, closeAll, err := benchkit.Connect(sc.clients, sys.newAppender)
	defer closeAll()
	if err != nil {
		return appendResult{}, fmt.Errorf("%s: connect: %w", sys.name(), err)
	}
	// Stream i belongs to client i mod N and to store (i / N) mod S: every
	// client cycles over every store, and the stores get equal shares.
	owned := make([][]*streamState, sc.clients)
	all := make([]*streamState, sc.streams)
	for i := range sc.streams {
		s := &streamState{set: sc.set, store: (i / sc.clients) % sc.set.n, name: fmt.Sprintf("%s-s%04d", sc.tag(), i)}
		all[i] = s
		owned[i%sc.clients] = append(owned[i%sc.clients], s)
	}

	// Warm-up, not measured: create every stream (first append, expecting
	// no stream), 32 at a time over the clients' connections.
	warmup, err := benchkit.WarmUp(ctx, clients, all, min(32, sc.streams), sc.opTimeout, nameOf, data)
	if err != nil {
		return appendResult{}, fmt.Errorf("%s: %w", sys.name(), err)
	}

	// Measured phase.
	var waitProfile func()
	if sc.profile != nil {
		waitProfile = sc.profile(sc.duration)
	}
	var counter *fsyncCounter
	if sc.fsyncs {
		var pids []int
		for _, p := range sys.procs() {
			pids = append(pids, p.PID)
		}
		if counter, err = startFsyncCounter(ctx, pids); err != nil {
			return appendResult{}, err
		}
	}
	cpu0 := sampleCPU(sys)
	out := benchkit.Run(ctx, sc.clients, time.Now().Add(sc.duration), benchkit.Appends(clients, owned, sc.opTimeout, nameOf, data))
	cpu := sampleCPU(sys).minus(cpu0)
	fsyncs := int64(-1)
	if counter != nil {
		if fsyncs, err = counter.stop(); err != nil {
			return appendResult{}, err
		}
	}
	if waitProfile != nil {
		waitProfile()
	}

	res := newAppendResult(sys.name(), sc, out, warmup)
	res.CPU = cpu.percent(out.Elapsed)
	res.Load1 = loadAvg()
	if fsyncs >= 0 {
		res.Fsyncs = fsyncs
		if res.Ops > 0 {
			res.FsyncsPerOp = float64(fsyncs) / float64(res.Ops)
		}
	}
	if res.Ops > 0 {
		res.CPUPerOpUs = benchkit.Us(cpu.total()) / float64(res.Ops)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if d := deadProc(sys); d != nil {
		return res, fmt.Errorf("%s exited during the run; its log ends:\n%s", d.Name, child.Tail(d.LogPath, 15))
	}

	// Check: every acknowledged append is on the servers, and the servers
	// agree with the clients on every stream's last revision.
	res.Verify, err = sys.verify(ctx, all)
	return res, err
}

func deadProc(sys system) *proc {
	for _, p := range sys.procs() {
		if !p.Alive() {
			return p
		}
	}
	return nil
}

// cpuSample is the CPU time used so far by this process and by each server
// process of a system, by role.
type cpuSample map[string]time.Duration

func sampleCPU(sys system) cpuSample {
	s := cpuSample{}
	if d, err := child.CPU(os.Getpid()); err == nil {
		s["tool"] = d
	}
	for _, p := range sys.procs() {
		if d, err := child.CPU(p.PID); err == nil {
			s[p.role] += d
		}
	}
	return s
}

func (s cpuSample) minus(o cpuSample) cpuSample {
	out := cpuSample{}
	for k, v := range s {
		out[k] = v - o[k]
	}
	return out
}

func (s cpuSample) total() time.Duration {
	var t time.Duration
	for _, v := range s {
		t += v
	}
	return t
}

// percent is each role's CPU use over elapsed, in % of one core.
func (s cpuSample) percent(elapsed time.Duration) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		out[k] = 100 * v.Seconds() / elapsed.Seconds()
	}
	return out
}

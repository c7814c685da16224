// Command lbcluster is the append benchmark of tools/lbbench against
// clusters, side by side in the same run:
//
//   - Logbook R3: one NATS server, 3 storenodes (-initial-size 3, data on
//     disk) and -gateways gateways, each in a process of its own, built from
//     this workspace; stores created with replication factor 3;
//   - JetStream R3, twice (-jetstream): 3 nats-servers (the module's
//     nats-server library, each in a process of its own) with cluster routes,
//     JetStream on file storage with `sync_interval: always` (every message
//     fsynced before its ack: the durable peer), and 3 more with JetStream's
//     default (fsync every 2 minutes); streams with Replicas: 3.
//
// Everything binds to 127.0.0.1. The tool is only the load generator: N
// clients, each with its own NATS connection and a disjoint share of the
// streams, append one event at a time round robin over their streams with
// optimistic concurrency (Logbook: expected revision; JetStream:
// Nats-Expected-Last-Subject-Sequence), against 1 store (one JetStream
// stream) and against 16 stores (16 streams), with 1 and 64 clients. After
// each scenario every stream is checked: Logbook streams are read back from
// their start, JetStream subjects are counted; every acknowledged append
// must be there.
//
// It prints appends/s, p50/p99 latency, CPU by process role, Logbook's
// ratios against each JetStream and 16 stores/1 store, as ranges over
// -rounds, naming the nats-server version (read from the build).
//
//	go run ./tools/lbcluster -duration 10s -rounds 2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

type options struct {
	duration  time.Duration
	clients   []int
	stores    []int
	streams   int
	eventSize int
	rounds    int
	gateways  int
	dir       string
	keep      bool
	only      string
	jsSync    []string
	jsonOut   string
	pprofDir  string
	fsyncs    bool
	snBin     string
	snFlags   []string
	opTimeout time.Duration
	timeout   time.Duration
	logLevel  string
	verbose   bool
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("lbcluster", flag.ContinueOnError)
	o := &options{}
	clients := fs.String("clients", "1,64", "comma-separated client counts")
	stores := fs.String("stores", "1,16", "comma-separated store counts (JetStream: streams)")
	smoke := fs.Bool("smoke", false, "short run for CI: -duration 2s -clients 1,8 -streams 128 unless set explicitly")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each scenario")
	fs.IntVar(&o.streams, "streams", 1024, "streams appended to, shared out among the clients and the stores (≥ clients × stores)")
	fs.IntVar(&o.eventSize, "event-size", 256, "bytes of data per event")
	fs.IntVar(&o.rounds, "rounds", 1, "times every scenario is run; the summary gives min–max")
	fs.IntVar(&o.gateways, "gateways", 2, "Logbook gateway processes")
	fs.StringVar(&o.dir, "dir", "", "data and log directory (default: a temporary directory, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (data, logs, configurations)")
	fs.StringVar(&o.only, "only", "both", "systems to run: logbook, jetstream or both")
	jsSync := fs.String("jetstream", benchkit.SyncAlways+","+benchkit.SyncDefault, "JetStream sync settings to compare against: always (sync_interval: always), default (fsync every 2 min), or both; each is a cluster of its own")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "take a CPU and an allocation profile of every storenode and gateway while Logbook is idle and during its scenarios with the most clients, into this directory")
	fs.BoolVar(&o.fsyncs, "count-fsyncs", false, "count the servers' fsync/fdatasync calls in each measured phase with `perf stat` (needs perf and tracing rights)")
	fs.StringVar(&o.snBin, "storenode-bin", "", "use this storenode binary instead of building "+storenodePkg+" (to compare builds)")
	fs.Func("storenode-flag", "pass one more flag to every storenode, e.g. -storenode-flag=-proposers=2; repeatable", func(f string) error {
		if !strings.HasPrefix(f, "-") {
			return fmt.Errorf("%q is not a flag", f)
		}
		o.snFlags = append(o.snFlags, f)
		return nil
	})
	fs.DurationVar(&o.opTimeout, "op-timeout", 10*time.Second, "deadline of each request")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (default: derived from the other flags)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "-log-level of the storenodes and gateways")
	fs.BoolVar(&o.verbose, "v", false, "copy the servers' logs to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *smoke {
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["clients"] {
			*clients = "1,8"
		}
		if !set["streams"] {
			o.streams = 128
		}
	}
	var err error
	if o.clients, err = benchkit.IntList("-clients", *clients); err != nil {
		return nil, err
	}
	if o.stores, err = benchkit.IntList("-stores", *stores); err != nil {
		return nil, err
	}
	if o.jsSync, err = benchkit.SyncSettings(*jsSync); err != nil {
		return nil, err
	}
	if err := benchkit.CheckAppendRun(o.only, o.duration); err != nil {
		return nil, err
	}
	switch {
	case o.streams < slices.Max(o.clients)*slices.Max(o.stores):
		return nil, fmt.Errorf("-streams must be at least the largest client count × the largest store count (%d)", slices.Max(o.clients)*slices.Max(o.stores))
	case o.eventSize < 1 || o.rounds < 1 || o.gateways < 1:
		return nil, errors.New("-event-size, -rounds and -gateways must be ≥ 1")
	}
	if o.timeout == 0 {
		// Each scenario: its duration plus warm-up and checks; plus start-up.
		n := o.rounds * len(o.clients) * len(o.stores) * (1 + len(o.jsSync))
		o.timeout = time.Duration(n)*(o.duration+90*time.Second) + 5*time.Minute
	}
	return o, nil
}

func main() {
	maybeRunNATSChild()
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbcluster:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first ^C stops the run cleanly (every child stopped by its PID); a
	// second one kills this process, and the kernel then kills the children
	// (Pdeathsig).
	go func() {
		<-ctx.Done()
		stop()
	}()
	rep, err := run(ctx, o, os.Stdout, os.Stderr)
	if err == nil && rep.failed() {
		err = errors.New("some appends failed or were not found on the servers (see the tables)")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbcluster:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the systems, runs every scenario and stops every process it
// started, whatever happens (error, timeout, ctx cancelled by ^C).
func run(ctx context.Context, o *options, out, progress io.Writer) (*report, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	dir, remove, err := benchkit.WorkDir(o.dir, "lbcluster-")
	if err != nil {
		return nil, err
	}
	if o.keep && o.dir == "" {
		fmt.Fprintln(progress, "keeping", dir)
	} else {
		defer remove()
	}
	rep := &report{RunInfo: benchkit.RunInfo{Env: benchkit.Environment(dir), Options: o.summary()}}
	env := &runEnv{ctx: ctx, dir: dir, logDir: filepath.Join(dir, "logs"), binDir: filepath.Join(dir, "bin"),
		verbose: o.verbose, logLevel: o.logLevel, procs: &procGroup{}}
	for _, d := range []string{env.logDir, env.binDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// Every child is stopped by its PID on the way out; the kernel kills
	// them too should this process die (Pdeathsig).
	defer func() {
		for _, p := range env.procs.list() {
			rep.pids = append(rep.pids, p.PID)
		}
		env.procs.stopAll()
	}()
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return nil, err
		}
	}

	begin := time.Now()
	since := func() string { return fmt.Sprintf("[%5.1fs]", time.Since(begin).Seconds()) }
	if p50, p99, err := fsyncLatency(dir, 200); err == nil {
		rep.Env["fsync_4k"] = fmt.Sprintf("p50 %s, p99 %s", p50.Round(time.Microsecond), p99.Round(time.Microsecond))
	}
	rep.Env["loadavg_start"] = loadAvg()
	rep.printHeader(out)

	var systems []system
	var lb *logbookCluster
	if o.only != "logbook" {
		for _, setting := range o.jsSync {
			fmt.Fprintf(progress, "%s starting a 3-server JetStream cluster (sync %s)...\n", since(), setting)
			js, err := startJetStream(env, 3, setting)
			if err != nil {
				return rep, err
			}
			defer js.close()
			systems = append(systems, js)
		}
	}
	if o.only != "jetstream" {
		fmt.Fprintf(progress, "%s building and starting Logbook: NATS, 3 storenodes, %d gateway(s)...\n", since(), o.gateways)
		var err error
		lb, err = startLogbook(env, logbookOptions{nodes: 3, gateways: o.gateways, pprof: o.pprofDir != "", storenodeBin: o.snBin, storenodeFlags: o.snFlags})
		if err != nil {
			return rep, err
		}
		defer lb.close()
		systems = append(systems, lb)
	}
	for _, n := range o.stores {
		set := newStoreSet(n)
		for _, sys := range systems {
			fmt.Fprintf(progress, "%s creating %d store(s) R3 on %s...\n", since(), n, sys.name())
			if err := sys.createStores(ctx, set); err != nil {
				return rep, err
			}
		}
		if lb != nil {
			fmt.Fprintf(out, "Logbook leaders of the %d-store set, by storenode: %v\n", n, lb.leaders(ctx, set))
		}
		for _, sys := range systems {
			if js, ok := sys.(*jetstreamCluster); ok {
				fmt.Fprintf(out, "JetStream leaders of the %d-stream set, by server: %v\n", n, js.leaders(ctx, set))
			}
		}
	}
	// Idle CPU of each system with its stores created: the cost of Raft
	// ticks and heartbeats that every scenario pays too.
	// With -pprof-dir, Logbook's processes are profiled meanwhile
	// (<process>-idle.pprof): what the idle cost is made of.
	for _, sys := range systems {
		c0 := sampleCPU(sys)
		t0 := time.Now()
		profiled := func() {}
		if o.pprofDir != "" && sys == system(lb) {
			profiled = lb.profile(o.pprofDir, "idle", 4*time.Second)
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(3 * time.Second):
		}
		idle := sampleCPU(sys).minus(c0)
		profiled()
		delete(idle, "tool")
		rep.Idle = append(rep.Idle, idleCPU{System: sys.name(), CPU: idle.percent(time.Since(t0))})
		fmt.Fprintf(out, "idle CPU of %s (stores created, no load, 3s): %s\n", sys.name(), fmtCPU(idle.percent(time.Since(t0))))
	}
	fmt.Fprintln(out)

	for round := 1; round <= o.rounds; round++ {
		for _, n := range o.stores {
			for _, c := range o.clients {
				for _, sys := range systems {
					sc := scenario{round: round, clients: c, set: newStoreSet(n), streams: o.streams,
						eventSize: o.eventSize, duration: o.duration, opTimeout: o.opTimeout, fsyncs: o.fsyncs}
					if o.pprofDir != "" && sys == system(lb) && c == slices.Max(o.clients) {
						tag := fmt.Sprintf("s%d-c%d-r%d", n, c, round)
						sc.profile = func(d time.Duration) func() { return lb.profile(o.pprofDir, tag, d) }
					}
					fmt.Fprintf(progress, "%s round %d: %s, %d store(s), %d client(s)...\n", since(), round, sys.name(), n, c)
					res, err := runAppend(ctx, sys, sc)
					if err != nil {
						return rep, err
					}
					rep.Appends = append(rep.Appends, res)
				}
			}
		}
	}
	rep.printRuns(out)
	rep.printSummary(out)
	return rep, benchkit.WriteJSON(o.jsonOut, rep)
}

// failed reports appends that failed or were not found on the servers.
func (r *report) failed() bool {
	for _, a := range r.Appends {
		if a.Errors > 0 || a.Verify.Lost > 0 || a.Verify.Mismatches > 0 {
			return true
		}
	}
	return false
}

func (o *options) summary() map[string]string {
	m := benchkit.Settings(o.duration, o.clients, o.streams, o.eventSize, o.only)
	m["stores"] = fmt.Sprint(o.stores)
	m["rounds"] = strconv.Itoa(o.rounds)
	m["gateways"] = strconv.Itoa(o.gateways)
	m["storenode"] = o.snBin
	m["storenode_flags"] = strings.Join(o.snFlags, " ")
	m["jetstream"] = fmt.Sprint(o.jsSync)
	return m
}

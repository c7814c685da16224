// Command lbbench compares Logbook with JetStream in one run: it starts a
// single-node Logbook and embedded nats-servers with JetStream on file
// storage, one with `sync_interval: always` (every write fsynced: the durable
// peer) and one with JetStream's default (fsync every 2 minutes), all in this
// process on 127.0.0.1, and runs the same end-to-end workload through NATS
// against each:
//
//   - appends: N clients, each with its own NATS connection and its own share
//     of the streams, append one event at a time round robin over their
//     streams, with optimistic concurrency on the stream's last revision
//     (Logbook: expected revision; JetStream: Nats-Expected-Last-Subject-Sequence);
//   - reads: one stream of -read-events events read from its start (Logbook:
//     paged reads; JetStream: an ordered consumer).
//
// With -idle-stores N, Logbook runs with dormant stores (-hibernate-after)
// and gets N more stores before the scenarios, left idle until the cluster
// view shows them all dormant; each JetStream gets N more (empty) streams
// (-jetstream-idle-streams). The scenarios still use the default store and
// the BENCH stream: they show what the idle ones cost the busy one. All
// systems share this process, so each one's idle stores or streams cost the
// others CPU too: -jetstream-idle-streams 0 (or -only logbook) keeps
// Logbook's figures free of JetStream's idle streams.
//
// It prints appends/s, p50/p99 latency and Logbook's ratio against each
// JetStream, naming the nats-server version (read from the build).
//
//	go run ./tools/lbbench -duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

type options struct {
	duration   time.Duration
	clients    []int
	streams    int
	eventSize  int
	readEvents int
	readReps   int
	dir        string
	only       string
	jsSync     []string
	jsonOut    string
	cpuProfile string
	opTimeout  time.Duration
	timeout    time.Duration
	verbose    bool

	idleStores     int
	hibernateAfter time.Duration
	idleWait       time.Duration
	jsIdleStreams  int
}

func parseFlags() (*options, error) {
	o := &options{}
	clients := flag.String("clients", "1,64", "comma-separated client counts; one append scenario each")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each append scenario")
	flag.IntVar(&o.streams, "streams", 1000, "streams appended to, shared out among the clients")
	flag.IntVar(&o.eventSize, "event-size", 256, "bytes of data per event")
	flag.IntVar(&o.readEvents, "read-events", 1000, "events in the stream of the read benchmark (0: skip it)")
	flag.IntVar(&o.readReps, "read-reps", 20, "times the read benchmark reads its stream; the median is reported")
	flag.StringVar(&o.dir, "dir", "", "data directory (default: a temporary directory, removed at the end)")
	flag.StringVar(&o.only, "only", "both", "systems to run: logbook, jetstream or both")
	jsSync := flag.String("jetstream", benchkit.SyncAlways+","+benchkit.SyncDefault, "JetStream sync settings to compare against: always (sync_interval: always), default (fsync every 2 min), or both")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of Logbook's append scenario with the most clients to this file")
	flag.DurationVar(&o.opTimeout, "op-timeout", 10*time.Second, "deadline of each request")
	flag.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (default: derived from the other flags)")
	flag.BoolVar(&o.verbose, "v", false, "log Logbook's and NATS's messages to stderr")
	flag.IntVar(&o.idleStores, "idle-stores", 0, "idle Logbook stores created, and waited for until dormant, before the scenarios")
	flag.DurationVar(&o.hibernateAfter, "hibernate-after", 0, "Logbook's HibernateAfter: idle stores go dormant after this (default: 5s with -idle-stores, else 0: never)")
	flag.DurationVar(&o.idleWait, "idle-wait", 0, "bound on the wait for the idle stores to go dormant (default: -hibernate-after + 2m)")
	flag.IntVar(&o.jsIdleStreams, "jetstream-idle-streams", 0, "idle streams created on each JetStream before the scenarios (default: -idle-stores); they run in this process and cost Logbook CPU too")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	// Unset, these two follow -idle-stores (see idleDefaults).
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["hibernate-after"] {
		o.hibernateAfter = -1
	}
	if !set["jetstream-idle-streams"] {
		o.jsIdleStreams = -1
	}
	var err error
	if o.clients, err = benchkit.IntList("-clients", *clients); err != nil {
		return nil, err
	}
	if o.jsSync, err = benchkit.SyncSettings(*jsSync); err != nil {
		return nil, err
	}
	if err := benchkit.CheckAppendRun(o.only, o.duration); err != nil {
		return nil, err
	}
	switch {
	case o.streams < slices.Max(o.clients):
		return nil, errors.New("-streams must be at least the largest client count")
	case o.eventSize < 1 || o.readEvents < 0 || o.readReps < 1:
		return nil, errors.New("-event-size and -read-reps must be ≥ 1, -read-events ≥ 0")
	}
	if err := o.idleDefaults(); err != nil {
		return nil, err
	}
	if o.timeout == 0 {
		// Each scenario: its duration plus setup, warm-up and checks; idle
		// stores at 10 creates/s, idle streams at 20/s, then the wait.
		o.timeout = time.Duration((1+len(o.jsSync))*len(o.clients))*(o.duration+2*time.Minute) + 3*time.Minute
		if o.idleStores > 0 {
			o.timeout += time.Duration(o.idleStores)*100*time.Millisecond + o.idleWait
		}
		o.timeout += time.Duration(o.jsIdleStreams*len(o.jsSync)) * 50 * time.Millisecond
	}
	return o, nil
}

// idleDefaults checks the idle flags and fills in their defaults: a
// negative hibernateAfter or jsIdleStreams stands for a flag not given.
func (o *options) idleDefaults() error {
	if o.idleStores < 0 || o.idleWait < 0 {
		return errors.New("-idle-stores and -idle-wait must be ≥ 0")
	}
	if o.jsIdleStreams < 0 {
		o.jsIdleStreams = o.idleStores
	}
	if o.hibernateAfter < 0 {
		o.hibernateAfter = 0
		if o.idleStores > 0 {
			o.hibernateAfter = 5 * time.Second
		}
	}
	if o.idleStores > 0 && o.hibernateAfter == 0 {
		return errors.New("-idle-stores needs -hibernate-after > 0: idle stores are waited for until dormant")
	}
	if o.idleWait == 0 {
		o.idleWait = o.hibernateAfter + 2*time.Minute
	}
	return nil
}

// logbookConfig is the embedded Logbook's configuration: room for the idle
// stores, and dormant stores when asked for.
func (o *options) logbookConfig(logger *slog.Logger) embed.Config {
	room := max(10_000, o.idleStores+10) // the defaults of MaxStores and MaxReplicas
	return embed.Config{Logger: logger, HibernateAfter: o.hibernateAfter, MaxStores: room, MaxReplicas: room}
}

func main() { benchkit.Main("lbbench", parseFlags, run) }

func (o *options) Bounds() (time.Duration, string) { return o.timeout, o.dir }

func run(ctx context.Context, o *options, dir string) error {
	rep, err := execute(ctx, o, dir)
	if err != nil {
		return err
	}
	return benchkit.WriteJSON(o.jsonOut, rep)
}

// execute runs the benchmark and prints its report.
func execute(ctx context.Context, o *options, dir string) (*report, error) {
	logger := benchkit.Logger(o.verbose)
	rep := &report{RunInfo: benchkit.RunInfo{Env: environment(dir), Options: o.summary()}}
	rep.printHeader(os.Stdout)
	rep.Idle = &idleResult{HibernateAfterS: o.hibernateAfter.Seconds(), DormantAfter: -1, JetStreamCreateS: map[string]float64{}}

	// The systems run side by side for the whole run; each scenario runs on
	// each JetStream first, then on Logbook, so that they see the same machine.
	var systems []system
	defer func() {
		for _, s := range slices.Backward(systems) {
			s.close()
		}
	}()
	if o.only != "logbook" {
		for _, setting := range o.jsSync {
			js, err := startJetStream(ctx, dir, setting)
			if err != nil {
				return nil, err
			}
			systems = append(systems, js)
			if o.jsIdleStreams > 0 {
				if err := js.addIdleStreams(ctx, o.jsIdleStreams, rep.Idle); err != nil {
					return nil, err
				}
				rep.Idle.JetStreamStreams = o.jsIdleStreams
			}
		}
	}
	var lb *logbookSystem
	if o.only != "jetstream" {
		var err error
		if lb, err = startLogbook(ctx, dir, o.logbookConfig(logger)); err != nil {
			return nil, err
		}
		systems = append(systems, lb)
		if o.idleStores > 0 {
			if err := lb.addIdleStores(ctx, o.idleStores, o.idleWait, rep.Idle); err != nil {
				return nil, err
			}
			rep.Idle.LogbookStores = o.idleStores
		}
	}

	for _, n := range o.clients {
		for _, sys := range systems {
			cfg := appendConfig{clients: n, streams: o.streams, eventSize: o.eventSize, duration: o.duration, opTimeout: o.opTimeout}
			if sys.name() == "logbook" && n == slices.Max(o.clients) {
				cfg.profile = o.cpuProfile
			}
			fmt.Fprintf(os.Stderr, "appends: %s, %d clients...\n", sys.name(), n)
			res, err := runAppend(ctx, sys, cfg)
			if err != nil {
				return nil, err
			}
			rep.Appends = append(rep.Appends, res)
		}
	}
	if o.readEvents > 0 {
		for _, sys := range systems {
			fmt.Fprintf(os.Stderr, "reads: %s...\n", sys.name())
			res, err := runRead(ctx, sys, o.readEvents, o.eventSize, o.readReps)
			if err != nil {
				return nil, err
			}
			rep.Reads = append(rep.Reads, res)
		}
	}
	if lb != nil && rep.Idle.LogbookStores > 0 {
		lb.countDormant(ctx, rep.Idle)
	}

	rep.Idle.print(os.Stdout)
	fmt.Fprintln(os.Stdout)
	rep.printAppends(os.Stdout)
	rep.printReads(os.Stdout)
	return rep, nil
}

func (o *options) summary() map[string]string {
	m := benchkit.Settings(o.duration, o.clients, o.streams, o.eventSize, o.only)
	m["read_events"] = strconv.Itoa(o.readEvents)
	m["read_reps"] = strconv.Itoa(o.readReps)
	m["jetstream"] = fmt.Sprint(o.jsSync)
	m["idle_stores"] = strconv.Itoa(o.idleStores)
	m["hibernate_after"] = o.hibernateAfter.String()
	m["jetstream_idle_streams"] = strconv.Itoa(o.jsIdleStreams)
	return m
}

func environment(dir string) map[string]string {
	env := benchkit.Environment(dir)
	env["gomaxprocs"] = strconv.Itoa(runtime.GOMAXPROCS(0))
	return env
}

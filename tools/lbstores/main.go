// Command lbstores measures how Logbook copes with many stores. It runs the
// real logbook binary (storenode + gateway + embedded NATS, all on
// 127.0.0.1) in a child process, so that the server's RSS and CPU, read from
// /proc/<pid>, are its own and not the load generator's, and then:
//
//  1. starts it on an empty data directory and measures it idle;
//  2. creates -stores stores with -concurrency creators, timing each create
//     until the store runs, with the server's RSS, fds and threads every 10%;
//  3. measures it idle again (CPU over -idle, RSS, fds, threads, disk);
//  4. appends one event to every store and reads each back;
//  5. stops it with SIGTERM (timed), starts it again on the same data and
//     times the start-up until "Logbook is ready"; lists every store by
//     paging stores.list, reads one random store's event, then every store's;
//  6. measures it idle a third time and stops it.
//
// With -hibernate-after D > 0 (dormant.go) it also waits after step 4
// until every store is dormant and measures the server idle then, and its
// memory once it has garbage collected (-dormant-gc-wait); after
// the restart it measures it idle before any request (the stores are still
// dormant) and reads 20 random stores one at a time: the wake latency of
// a dormant store.
//
// Everything is bounded by -timeout and -max-rss; the server is killed if the
// tool exits early, and a temporary directory is removed unless -dir is set.
//
//	go run ./tools/lbstores -stores 1000
//
// With -nodes 3 (cluster mode, cluster.go) it runs Logbook as separate
// processes instead: a NATS server, 3 storenodes and a gateway, stores with
// replication factor 3, each process measured on its own; and as its peer a
// 3-server JetStream cluster with as many R3 streams (jetstream_cluster.go):
//
//	go run ./tools/lbstores -nodes 3 -stores 300
//
// Linux only: it reads /proc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/logbookdb/logbook/tools/internal/child"
)

type options struct {
	stores       int
	concurrency  int
	idle         time.Duration
	settle       time.Duration
	dir          string
	bin          string
	jsonOut      string
	opTimeout    time.Duration
	readyTimeout time.Duration
	stopTimeout  time.Duration
	timeout      time.Duration
	maxRSS       int
	maxFailures  int
	probe        bool
	soak         time.Duration
	serveTimeout time.Duration
	logLevel     string
	verbose      bool
	jetstream    bool
	nodes        int
	hibernate    *time.Duration // -hibernate-after; nil: not passed, the server's default
	dormantGC    time.Duration  // bound on the wait for a GC once every store is dormant; 0: no wait
	serverFlags  []string       // -server-flag: passed as they are to the server(s)
}

// dormancy reports whether the run measures dormant stores: -hibernate-after
// was passed and is not 0 (never).
func (o *options) dormancy() bool { return o.hibernate != nil && *o.hibernate > 0 }

// serverArgs is what the storenodes get besides the tool's own set-up:
// -hibernate-after and every -server-flag.
func (o *options) serverArgs() []string {
	args := append([]string(nil), o.serverFlags...)
	if o.hibernate == nil {
		return args
	}
	return append(args, "-hibernate-after", o.hibernate.String())
}

// dormantBound bounds the wait for every store to go dormant.
func (o *options) dormantBound() time.Duration { return *o.hibernate + 2*time.Minute }

func parseFlags() (*options, error) {
	o := &options{}
	flag.IntVar(&o.stores, "stores", 1000, "stores to create")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent creators (and appenders/readers in the checks)")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "how long each idle CPU measurement lasts")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait before each idle measurement, for the server to finish background work")
	flag.StringVar(&o.dir, "dir", "", "work directory: data, binary, server logs (default: a temporary directory, removed at the end)")
	flag.StringVar(&o.bin, "bin", "", "logbook binary to run (default: build "+logbookPkg+" from the workspace)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.DurationVar(&o.opTimeout, "op-timeout", 60*time.Second, "deadline of each create, append and read (a create includes waiting until it runs)")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 5*time.Minute, "how long a start may take until \"Logbook is ready\"")
	flag.DurationVar(&o.stopTimeout, "stop-timeout", 5*time.Minute, "how long a SIGTERM'd server may take to exit before it is killed")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	flag.IntVar(&o.maxRSS, "max-rss", 8192, "stop the run if the server's RSS passes this many MiB (0: no limit)")
	flag.IntVar(&o.maxFailures, "max-failures", 20, "stop creating after this many failed creates")
	flag.BoolVar(&o.probe, "probe", true, "measure when each created store starts being served (see serving.go)")
	flag.DurationVar(&o.soak, "soak", 0, "after the idle measurement that follows the creates, watch the idle server this long (RSS, fds, CPU each minute)")
	flag.DurationVar(&o.serveTimeout, "serve-timeout", 5*time.Minute, "how long to wait after the creates for every store to be served")
	flag.StringVar(&o.logLevel, "log-level", "warn", "the server's -log-level")
	flag.BoolVar(&o.verbose, "v", false, "copy the server's log (stderr) to stderr")
	flag.BoolVar(&o.jetstream, "jetstream", true, "then run the peer: as many R1 JetStream streams on one nats-server (file storage, sync always), measured the same way")
	flag.IntVar(&o.nodes, "nodes", 1, "1: the logbook binary, one process; N ≥ 3: cluster mode (cluster.go), N storenodes, a gateway and a NATS server, stores with replication factor 3, against N nats-servers with R3 streams")
	flag.Func("hibernate-after", "pass -hibernate-after to the server(s) (default: nothing, the server's own default); when > 0, also wait after the reads until every store is dormant and measure it idle then, measure it idle after the restart before any read, and time the wake of 20 dormant stores (dormant.go)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		if d < 0 {
			return errors.New("negative")
		}
		o.hibernate = &d
		return nil
	})
	flag.Func("server-flag", "pass one more flag to the server (or every storenode), e.g. -server-flag=-max-running-replicas=500; repeatable", func(s string) error {
		if !strings.HasPrefix(s, "-") {
			return errors.New("a flag starts with -")
		}
		o.serverFlags = append(o.serverFlags, s)
		return nil
	})
	flag.DurationVar(&o.dormantGC, "dormant-gc-wait", 2*time.Minute+15*time.Second, "with -hibernate-after, after the dormant idle measurement wait at most this long (from every store dormant) for a garbage collection in each storenode, and record its Go heap and RSS then (an idle Go process collects every 2 minutes); 0: do not wait")
	flag.Parse()
	switch {
	case flag.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %v", flag.Args())
	case o.stores < 1 || o.stores > 99_999:
		return nil, errors.New("-stores must be between 1 and 99999")
	case o.concurrency < 1:
		return nil, errors.New("-concurrency must be ≥ 1")
	case o.idle <= 0 || o.settle < 0 || o.soak < 0 || o.opTimeout <= 0 || o.readyTimeout <= 0 || o.stopTimeout <= 0 || o.timeout <= 0:
		return nil, errors.New("-idle and the timeouts must be positive, -settle and -soak ≥ 0")
	case o.nodes != 1 && o.nodes < clusterRF:
		return nil, fmt.Errorf("-nodes must be 1 or at least %d (stores get replication factor %d)", clusterRF, clusterRF)
	case o.nodes > 1 && (o.bin != "" || o.soak > 0):
		return nil, errors.New("-bin and -soak are for one node: cluster mode builds the storenode and gateway binaries")
	}
	return o, nil
}

func main() {
	maybeRunNATSChild()
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbstores:", err)
		os.Exit(2)
	}
	var rep *report
	if o.nodes > 1 {
		deadline := time.Now().Add(o.timeout) // both sides share -timeout
		rep, err = runCluster(o)
		if rep != nil && o.jetstream {
			rep.JetStreamCluster = jetStreamClusterPhase(o, deadline)
		}
	} else {
		rep, err = run(o)
		if rep != nil && o.jetstream {
			rep.JetStream = jetStreamPhase(o)
		}
	}
	if rep != nil {
		rep.print(os.Stdout)
		if jerr := benchkit.WriteJSON(o.jsonOut, rep); jerr != nil {
			fmt.Fprintln(os.Stderr, "lbstores:", jerr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbstores:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// run runs every phase; the report holds whatever was measured before a
// failure, which is also returned.
func run(o *options) (rep *report, err error) {
	ctx, cancel, dir, done, err := setUp(o)
	if err != nil {
		return nil, err
	}
	defer done()
	defer func() { explain(ctx, rep, &err) }()
	rep = newReport(o, dir)

	// The binary.
	bin := o.bin
	if bin == "" {
		progress("building %s", logbookPkg)
		t := time.Now()
		if bin, err = child.Build(ctx, dir, logbookPkg); err != nil {
			return rep, fmt.Errorf("%w(or pass -bin)", err)
		}
		rep.BuildS = time.Since(t).Seconds()
		rep.Env["source"] = sourceRevision(ctx)
	}
	rep.Env["binary"] = bin
	rep.Env["binary_version"] = binaryVersion(bin)
	raft, err := benchkit.FreeAddr()
	if err != nil {
		return rep, err
	}
	httpAddr, err := benchkit.FreeAddr()
	if err != nil {
		return rep, err
	}
	metrics := []string{httpAddr}
	cfg := serverConfig{
		bin: bin, dataDir: filepath.Join(dir, "data"), raftAddr: raft,
		maxStores: o.stores + 1, logLevel: o.logLevel, verbose: o.verbose,
		httpAddr: httpAddr, extra: o.serverArgs(),
	}
	ids := make([]string, o.stores)
	for i := range ids {
		ids[i] = storeID(i + 1)
	}
	runID := time.Now().UnixNano()

	// 1. First start, on an empty data directory (or -dir's).
	var srv *server
	var w *watcher
	defer func() {
		w.close()
		srv.kill()
		for n := 1; n <= 2; n++ {
			if path := filepath.Join(dir, fmt.Sprintf("server-%d.log", n)); fileExists(path) {
				rep.Logs = append(rep.Logs, summarizeLog(path))
			}
		}
	}()
	startOne := func(n int) (string, error) {
		var err error
		logPath := filepath.Join(dir, fmt.Sprintf("server-%d.log", n))
		if srv, err = startServer(cfg, logPath); err != nil {
			return "", err
		}
		progress("start %d: pid %d, waiting for \"Logbook is ready\"", n, srv.PID)
		url, d, err := srv.WaitReady(ctx, o.readyTimeout)
		rep.Starts = append(rep.Starts, startResult{ReadyS: d.Seconds(), Error: benchkit.ErrString(err)})
		if err != nil {
			return "", fmt.Errorf("start %d: %w", n, err)
		}
		progress("start %d: ready in %s at %s", n, d.Round(time.Millisecond), url)
		w = watch(srv, o.maxRSS, cancel)
		rep.Env["server_max_open_files"] = openFilesLimit(srv.PID)
		return url, nil
	}
	url, err := startOne(1)
	if err != nil {
		return rep, err
	}
	if rep.Empty, err = measureIdle(ctx, srv, o, "empty: 1 store (default)"); err != nil {
		return rep, err
	}
	noteDormant(ctx, metrics, rep.Empty)

	// 2. Creates.
	c, err := client.Connect(url)
	if err != nil {
		return rep, err
	}
	progress("creating %d stores with %d creators", o.stores, o.concurrency)
	var probe *servingProbe
	if o.probe {
		probe = newServingProbe(c.Conn())
	}
	rep.Create = createStores(ctx, c, serverMeasured(srv, w), probe, createConfig{
		stores: o.stores, concurrency: o.concurrency, opTimeout: o.opTimeout, maxFailures: o.maxFailures,
	})
	progress("created %d (existed %d, failed %d) in %.1fs", rep.Create.Created, rep.Create.Existed, rep.Create.Failed, rep.Create.TotalS)
	if probe != nil {
		end := time.Now()
		progress("waiting until every store is served (%d not yet)", probe.unserved())
		rep.Serving = probe.waitAll(ctx, end, o.serveTimeout)
		progress("served: %d of %d, all %.1fs after the last create", rep.Serving.Served, rep.Serving.Stores, rep.Serving.AllServedAfterS)
	}
	if rep.Create.Aborted != "" {
		return rep, errors.New("creates stopped: " + rep.Create.Aborted)
	}

	// 3. Idle with every store.
	if rep.AfterCreate, err = measureIdle(ctx, srv, o, fmt.Sprintf("after creates: %d stores", o.stores+1)); err != nil {
		return rep, err
	}
	rep.AfterCreate.Disk = measureDisk(cfg.dataDir)
	noteDormant(ctx, metrics, rep.AfterCreate)
	if o.soak > 0 {
		if rep.Soak, err = soak(ctx, srv, cfg.dataDir, o.soak, time.Minute); err != nil {
			return rep, err
		}
	}

	// 4. One event in every store, read back.
	progress("appending one event to each store")
	rep.Append = forEachStore(ctx, ids, o.concurrency, o.opTimeout, appendCheck(c, runID))
	progress("reading it back")
	rep.Read = forEachStore(ctx, ids, o.concurrency, o.opTimeout, readCheck(c, runID))
	lastRead := time.Now()
	if s, err := sampleProc(srv.PID, false); err == nil {
		rep.AfterAppendRSSMiB = mib(s.RSSKiB)
	}
	c.Close()
	if err := ctx.Err(); err != nil {
		return rep, context.Cause(ctx)
	}

	// 4b. With -hibernate-after: every store dormant, at rest.
	if o.dormancy() {
		rep.DormantWait = waitDormant(ctx, metrics, o.stores, lastRead, o.dormantBound())
		if err := ctx.Err(); err != nil {
			return rep, context.Cause(ctx)
		}
		if rep.DormantWait.reached() {
			if rep.Dormant, err = measureIdle(ctx, srv, o, fmt.Sprintf("dormant: %d stores", o.stores)); err != nil {
				return rep, err
			}
			noteDormant(ctx, metrics, rep.Dormant)
			if o.dormantGC > 0 {
				rep.DormantGC = memoryAfterGC(ctx, metrics, []int{srv.PID}, rep.DormantWait.at, o.dormantGC)
			}
		}
	}

	// 5. Stop, restart on the same data, check.
	w.close()
	progress("stopping (SIGTERM)")
	d, err := srv.stop(o.stopTimeout)
	rep.Stops = append(rep.Stops, stopResult{S: d.Seconds(), Error: benchkit.ErrString(err)})
	if err != nil {
		return rep, err
	}
	progress("stopped in %s; restarting", d.Round(time.Millisecond))
	url, err = startOne(2)
	if err != nil {
		return rep, err
	}
	if c, err = client.Connect(url); err != nil {
		return rep, err
	}
	defer c.Close()
	if o.dormancy() {
		// Before any request: the stores dormant at the stop stay so.
		if rep.RestartDormant, err = measureIdle(ctx, srv, o, fmt.Sprintf("after restart, dormant: %d stores", o.stores)); err != nil {
			return rep, err
		}
		noteDormant(ctx, metrics, rep.RestartDormant)
	}
	progress("listing stores")
	rep.List = listAll(ctx, c, ids)
	if o.dormancy() {
		rep.Wake = wakeReads(ctx, c, runID, ids, wakeSamples, o.opTimeout, metrics)
		rep.RandomRead = rep.Wake.first()
	} else {
		pick := ids[rand.IntN(len(ids))]
		rctx, rcancel := context.WithTimeout(ctx, o.opTimeout)
		t := time.Now()
		err = readCheck(c, runID)(rctx, pick)
		rcancel()
		rep.RandomRead = randomRead{Store: pick, MS: ms(time.Since(t)), Error: benchkit.ErrString(err)}
	}
	progress("reading every store back")
	rep.ReadAfterRestart = forEachStore(ctx, ids, o.concurrency, o.opTimeout, readCheck(c, runID))
	if err := ctx.Err(); err != nil {
		return rep, context.Cause(ctx)
	}

	// 6. Idle after the restart, then stop.
	if rep.AfterRestart, err = measureIdle(ctx, srv, o, fmt.Sprintf("after restart: %d stores", o.stores+1)); err != nil {
		return rep, err
	}
	noteDormant(ctx, metrics, rep.AfterRestart)
	w.close()
	progress("stopping (SIGTERM)")
	d, err = srv.stop(o.stopTimeout)
	rep.Stops = append(rep.Stops, stopResult{S: d.Seconds(), Error: benchkit.ErrString(err)})
	return rep, err
}

// setUp gives a run its context (ended by SIGINT or SIGTERM, -timeout,
// or cancel) and its work directory; done removes the directory (unless
// -dir) and releases the context.
func setUp(o *options) (ctx context.Context, cancel context.CancelCauseFunc, dir string, done func(), err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, o.timeout, fmt.Errorf("-timeout %s reached", o.timeout))
	ctx, cancel = context.WithCancelCause(ctx)
	release := func() { cancel(nil); cancelTimeout(); stop() }
	dir, remove, err := benchkit.WorkDir(o.dir, "lbstores-")
	if err != nil {
		release()
		return nil, nil, "", nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		remove()
		release()
		return nil, nil, "", nil, err
	}
	return ctx, cancel, dir, func() { remove(); release() }, nil
}

// explain says, in a phase's error, why the run was stopped if it was,
// and records the failure in the report.
func explain(ctx context.Context, rep *report, err *error) {
	if *err != nil && ctx.Err() != nil {
		*err = fmt.Errorf("%w (run stopped: %v)", *err, context.Cause(ctx))
	}
	if rep != nil && *err != nil {
		rep.Failure = (*err).Error()
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// measureIdle waits -settle, then measures the server's CPU over -idle and
// its RSS, fds and threads at the end.
func measureIdle(ctx context.Context, srv *server, o *options, label string) (*idleResult, error) {
	progress("idle: %s (settle %s, measure %s)", label, o.settle, o.idle)
	if err := sleep(ctx, o.settle); err != nil {
		return nil, err
	}
	a, err := sampleProc(srv.PID, false)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, o.idle); err != nil {
		return nil, err
	}
	b, err := sampleProc(srv.PID, true)
	if err != nil {
		return nil, err
	}
	r := &idleResult{
		Label: label, IdleS: b.At.Sub(a.At).Seconds(), CPUPct: cpuPct(a, b),
		RSSMiB: mib(b.RSSKiB), AnonMiB: mib(b.AnonKiB), FileMiB: mib(b.FileKiB), HWMMiB: mib(b.HWMKiB),
		FDs: b.FDs, FDDetail: b.fdDetail, Threads: b.Threads,
	}
	progress("idle: cpu %.1f%% of a core, rss %.0f MiB, fds %d, threads %d", r.CPUPct, r.RSSMiB, r.FDs, r.Threads)
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

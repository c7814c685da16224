package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/logbookdb/logbook/tools/internal/child"
	"github.com/logbookdb/logbook/tools/internal/natschild"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The peer: one nats-server (the module's library, v2.15.2, in a process of
// its own: this binary re-run with natsChildEnv) with JetStream on file
// storage and `sync_interval: always` (each message fsynced before it is
// acknowledged, as Logbook acknowledges an append once it is fsynced). It
// gets the same number of R1 streams as Logbook gets stores, created by as
// many concurrent creators, each counted once its stream exists and its
// first message is acknowledged (Logbook's count: the store runs and takes
// an append). Then the same measurements: idle CPU and RSS, SIGTERM
// shutdown, restart until every stream is back.

// natsChildEnv, when set, makes this binary a nats-server child
// (tools/internal/natschild) that runs the configuration file it names.
const natsChildEnv = "LBSTORES_NATS_CONFIG"

// maybeRunNATSChild runs the NATS child and exits if natsChildEnv is set.
func maybeRunNATSChild() { natschild.MaybeRun(natsChildEnv, 10*time.Minute) }

// jsResult is the JetStream side of the run.
type jsResult struct {
	Version      string         `json:"version"`
	Empty        *idleResult    `json:"empty"`
	Create       latencySummary `json:"create"`
	CreateRate   float64        `json:"creates_per_s"`
	Failed       int            `json:"failed"`
	AfterCreate  *idleResult    `json:"after_create"`
	Stop         time.Duration  `json:"stop"`
	Restart      time.Duration  `json:"restart"` // start to every stream listed
	AfterRestart *idleResult    `json:"after_restart"`
	Err          string         `json:"error,omitempty"`
}

// runJetStream runs the JetStream side with o's stores and creators in
// dir; it returns what it measured, even on error.
func runJetStream(ctx context.Context, o *options, dir string) (res *jsResult, err error) {
	res = &jsResult{Version: natsserver.VERSION}
	defer func() {
		if err != nil {
			res.Err = err.Error()
		}
	}()
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	storeDir := filepath.Join(dir, "jetstream")
	conf := filepath.Join(dir, "jetstream.conf")
	body := fmt.Sprintf("server_name: lbstores\nlisten: %q\njetstream {\n  store_dir: %q\n  sync_interval: always\n  max_file_store: 100GB\n  max_memory_store: 1GB\n}\n", addr, storeDir)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return res, err
	}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	start := func(n int) (*server, string, time.Duration, error) {
		p, err := child.Start(child.Spec{
			Name: fmt.Sprintf("nats-server %d", n), Bin: self, Env: []string{natsChildEnv + "=" + conf},
			LogPath: filepath.Join(dir, "jetstream.log"),
			Ready: func(line string) (string, bool) {
				if url, ok := natschild.URL(line); ok {
					return url, true
				}
				return "", false
			},
		})
		if err != nil {
			return nil, "", 0, err
		}
		srv := &server{Proc: p}
		url, took, err := p.WaitReady(ctx, o.readyTimeout)
		if err != nil {
			srv.kill()
			return nil, "", 0, err
		}
		return srv, url, took, nil
	}
	progress("jetstream: start 1 (nats-server %s, file storage, sync always)", natsserver.VERSION)
	srv, url, _, err := start(1)
	if err != nil {
		return res, err
	}
	defer func() { srv.kill() }()
	if res.Empty, err = measureIdle(ctx, srv, o, "jetstream empty"); err != nil {
		return res, err
	}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	progress("jetstream: creating %d R1 streams with %d creators", o.stores, o.concurrency)
	lat, failed, _, took := createStreams(ctx, js, o, 1)
	res.Create, res.Failed = summarize(lat), failed
	res.CreateRate = float64(len(lat)) / took.Seconds()
	progress("jetstream: created %d (failed %d) in %s: p50 %.1f ms, p99 %.1f ms", len(lat), failed, took.Round(time.Millisecond), res.Create.P50ms, res.Create.P99ms)
	if res.AfterCreate, err = measureIdle(ctx, srv, o, fmt.Sprintf("jetstream after creates: %d streams", o.stores)); err != nil {
		return res, err
	}
	nc.Close()
	if res.Stop, err = srv.stop(o.stopTimeout); err != nil {
		return res, err
	}
	progress("jetstream: stopped in %s; restarting", res.Stop.Round(time.Millisecond))
	t0 := time.Now()
	srv, url, _, err = start(2)
	if err != nil {
		return res, err
	}
	nc, err = nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	if js, err = jetstream.New(nc); err != nil {
		return res, err
	}
	want := o.stores - failed
	for {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := js.AccountInfo(ictx)
		cancel()
		if err == nil && info.Streams >= want {
			break
		}
		if time.Since(t0) > o.readyTimeout || ctx.Err() != nil {
			return res, fmt.Errorf("jetstream restart: not every stream back after %s (%v)", time.Since(t0).Round(time.Second), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Restart = time.Since(t0)
	progress("jetstream: restart to every stream listed: %s", res.Restart.Round(time.Millisecond))
	if res.AfterRestart, err = measureIdle(ctx, srv, o, "jetstream after restart"); err != nil {
		return res, err
	}
	nc.Close()
	srv.stop(o.stopTimeout)
	return res, nil
}

// createStreams creates o.stores file streams of replicas replicas with
// o.concurrency creators; each counts from its create request until its
// first message is acknowledged. errs holds the first few failures.
func createStreams(ctx context.Context, js jetstream.JetStream, o *options, replicas int) (lat []time.Duration, failed int, errs []string, took time.Duration) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	t0 := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() { // owned by this call
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= o.stores {
					return
				}
				start := time.Now()
				err := createStream(ctx, js, i, replicas, o.opTimeout)
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					failed++
					if len(errs) < 5 {
						errs = append(errs, fmt.Sprintf("stream %d: %v", i, err))
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, failed, errs, time.Since(t0)
}

func createStream(ctx context.Context, js jetstream.JetStream, i, replicas int, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := fmt.Sprintf("S%05d", i)
	if _, err := js.CreateStream(cctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{fmt.Sprintf("s%05d.>", i)}, Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		return err
	}
	_, err := js.Publish(cctx, fmt.Sprintf("s%05d.first", i), []byte("lbstores"))
	return err
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// jetStreamPhase runs the JetStream side in a work directory of its own,
// bounded by -timeout.
func jetStreamPhase(o *options) *jsResult {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "lbstores-js-")
	if err != nil {
		return &jsResult{Err: err.Error()}
	}
	defer os.RemoveAll(dir)
	res, err := runJetStream(ctx, o, dir)
	if err != nil {
		progress("jetstream: %v", err)
	}
	return res
}

// printJetStream prints Logbook and JetStream side by side, with ratios
// (Logbook / JetStream: below 1 is Logbook's better, for every row).
func (r *report) printJetStream(w io.Writer) {
	j := r.JetStream
	if j == nil {
		return
	}
	fmt.Fprintf(w, "\nSide by side: Logbook stores vs JetStream R1 streams (nats-server %s, file storage, sync always), same count, same creators\n", j.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tLogbook\tJetStream\tLogbook / JetStream\t\n")
	row := func(name string, lb, js float64, unit string) {
		ratio := "-"
		if js > 0 && lb > 0 {
			ratio = fmt.Sprintf("%.2f", lb/js)
		}
		fmt.Fprintf(tw, "%s\t%.1f %s\t%.1f %s\t%s\t\n", name, lb, unit, js, unit, ratio)
	}
	if c := r.Create; c != nil {
		row("create p50", c.Latency.P50ms, j.Create.P50ms, "ms")
		row("create p99", c.Latency.P99ms, j.Create.P99ms, "ms")
		row("creates per second (inverse)", 1000/max(c.PerSec, 0.001), 1000/max(j.CreateRate, 0.001), "ms/create")
	}
	idle := func(name string, lb, js *idleResult) {
		if lb == nil || js == nil {
			return
		}
		row(name+": RSS", lb.RSSMiB, js.RSSMiB, "MiB")
		row(name+": idle CPU", lb.CPUPct, js.CPUPct, "%")
		row(name+": fds", float64(lb.FDs), float64(js.FDs), "")
	}
	idle("empty", r.Empty, j.Empty)
	idle("after creates", r.AfterCreate, j.AfterCreate)
	if len(r.Starts) > 1 && r.Starts[1].Error == "" && j.Restart > 0 {
		row("restart to ready", r.Starts[1].ReadyS, j.Restart.Seconds(), "s")
	}
	idle("after restart", r.AfterRestart, j.AfterRestart)
	idle("dormant (JetStream: after creates)", r.Dormant, j.AfterCreate)
	idle("after restart, dormant (JetStream: after restart)", r.RestartDormant, j.AfterRestart)
	tw.Flush()
	fmt.Fprintln(w, "  Logbook's create counts until the store runs (stores.create's reply); JetStream's until the stream exists and its first message is acknowledged.")
	fmt.Fprintln(w, "  JetStream's restart counts until the account lists every stream.")
	if r.Dormant != nil || r.RestartDormant != nil {
		fmt.Fprintln(w, "  JetStream has no dormant streams: Logbook's dormant rows are compared with JetStream at rest with every stream.")
	}
	if j.Err != "" {
		fmt.Fprintf(w, "  JETSTREAM FAILED: %s\n", j.Err)
	}
}

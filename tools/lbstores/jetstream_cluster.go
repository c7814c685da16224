package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The peer of cluster mode: -nodes nats-servers (the module's nats-server
// library, each a process of its own: this binary as a natschild) with
// cluster routes on 127.0.0.1, JetStream on file storage with
// `sync_interval: always`, as in one-node mode. It gets as many R3 streams
// as Logbook gets stores, each counted once its first message is
// acknowledged; then every server is stopped at once and started again,
// timed until every stream has a leader and until every stream's first
// message is read back (one direct request per stream, as Logbook reads
// one event per store through the gateway).

// jsClusterResult is the JetStream side of cluster mode; per-server slices
// follow Servers.
type jsClusterResult struct {
	Version      string         `json:"version"`
	ClientVer    string         `json:"client_version"`
	Servers      []string       `json:"servers"`
	FirstStart   []startResult  `json:"first_start"`
	Empty        []*idleResult  `json:"idle_empty"`
	Create       latencySummary `json:"create"`
	CreateRate   float64        `json:"creates_per_s"`
	Failed       int            `json:"failed"`
	FirstErrors  []string       `json:"first_errors,omitempty"`
	CreateCPU    []float64      `json:"create_cpu_pct"`
	AfterCreate  []*idleResult  `json:"idle_after_create"`
	Disk         diskUsage      `json:"disk_after_create"`
	Stops        []stopResult   `json:"stops"`
	Restarts     []startResult  `json:"restarts"`
	RestartReady float64        `json:"restart_all_ready_s"`   // start of the restart to the last ready line
	RestartLead  float64        `json:"restart_all_leaders_s"` // … to every stream listed with a leader
	RestartRead  float64        `json:"restart_all_read_s"`    // … to every stream's first message read back
	ReadBack     *opsResult     `json:"read_after_restart,omitempty"`
	AfterRestart []*idleResult  `json:"idle_after_restart"`
	Err          string         `json:"error,omitempty"`
}

// jsConf is the configuration of server i (1-based) of the cluster.
func jsConf(i int, listen, storeDir string, routes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: js%d\nlisten: %q\nmax_payload: 8MB\n", i, listen)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  sync_interval: always\n  max_file_store: 100GB\n  max_memory_store: 1GB\n}\n", storeDir)
	fmt.Fprintf(&b, "cluster {\n  name: lbstores-js\n  listen: %q\n  routes: [\n", routes[i-1])
	for _, r := range routes {
		fmt.Fprintf(&b, "    \"nats-route://%s\"\n", r)
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

// runJetStreamCluster runs the JetStream side of cluster mode in dir; it
// returns what it measured, even on error.
func runJetStreamCluster(ctx context.Context, o *options, dir string) (res *jsClusterResult, err error) {
	res = &jsClusterResult{Version: benchkit.NATSServerVersion(), ClientVer: benchkit.NATSGoVersion()}
	defer func() {
		if err != nil {
			res.Err = err.Error()
		}
	}()
	addrs, err := freeAddrs(2 * o.nodes)
	if err != nil {
		return res, err
	}
	var servers []*member
	defer func() { killMembers(servers) }()
	start := func() ([]string, []startResult, error) {
		servers = servers[:0]
		for i := 1; i <= o.nodes; i++ {
			body := jsConf(i, addrs[i-1], filepath.Join(dir, fmt.Sprintf("js%d", i)), addrs[o.nodes:])
			m, err := startNATSMember(fmt.Sprintf("js%d", i), body, dir, o.verbose)
			if err != nil {
				return nil, nil, err
			}
			servers = append(servers, m)
		}
		return waitReadyAll(ctx, servers, o.readyTimeout)
	}
	progress("jetstream: starting %d servers (nats-server %s, file storage, sync always)", o.nodes, res.Version)
	urls, starts, err := start()
	res.FirstStart = starts
	if err != nil {
		return res, err
	}
	for _, m := range servers {
		res.Servers = append(res.Servers, m.name)
	}
	nc, js, err := connectCluster(ctx, urls, o.readyTimeout)
	if err != nil {
		return res, err
	}
	defer func() { nc.Close() }()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchAll(servers, o.maxRSS, cancel)
	if res.Empty, err = measureIdleAll(ctx, servers, o, "jetstream cluster empty"); err != nil {
		return res, err
	}

	progress("jetstream: creating %d R3 streams with %d creators", o.stores, o.concurrency)
	before, err := sampleAll(servers, false)
	if err != nil {
		return res, err
	}
	lat, failed, errs, took := createStreams(ctx, js, o, clusterRF)
	if after, err := sampleAll(servers, false); err == nil {
		res.CreateCPU = cpuBetween(before, after)
	}
	res.Create, res.Failed, res.FirstErrors = summarize(lat), failed, errs
	res.CreateRate = float64(len(lat)) / took.Seconds()
	progress("jetstream: created %d (failed %d) in %s: p50 %.1f ms, p99 %.1f ms", len(lat), failed, took.Round(time.Millisecond), res.Create.P50ms, res.Create.P99ms)
	if failed > 0 {
		return res, fmt.Errorf("%d stream creates failed, first: %s", failed, errs[0])
	}
	if res.AfterCreate, err = measureIdleAll(ctx, servers, o, fmt.Sprintf("jetstream cluster after creates: %d R3 streams", o.stores)); err != nil {
		return res, err
	}
	for i := 1; i <= o.nodes; i++ {
		d := measureDisk(filepath.Join(dir, fmt.Sprintf("js%d", i)))
		res.Disk.Bytes, res.Disk.Files, res.Disk.Dirs = res.Disk.Bytes+d.Bytes, res.Disk.Files+d.Files, res.Disk.Dirs+d.Dirs
	}

	nc.Close()
	unwatch(servers)
	progress("jetstream: stopping every server (SIGTERM)")
	if res.Stops, err = stopAll(servers, o.stopTimeout, "nats-server"); err != nil {
		return res, err
	}
	progress("jetstream: restarting every server")
	t0 := time.Now()
	urls, res.Restarts, err = start()
	res.RestartReady = time.Since(t0).Seconds()
	if err != nil {
		return res, err
	}
	watchAll(servers, o.maxRSS, cancel)
	if nc, js, err = connectCluster(ctx, urls, o.readyTimeout); err != nil {
		return res, err
	}
	if err := waitLeaders(ctx, js, o.stores, o.readyTimeout); err != nil {
		return res, err
	}
	res.RestartLead = time.Since(t0).Seconds()
	progress("jetstream: every stream has a leader %.2fs after the restart began", res.RestartLead)
	names := make([]string, o.stores)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	res.ReadBack = forEachStore(ctx, names, o.concurrency, o.opTimeout, readFirst(nc))
	res.RestartRead = time.Since(t0).Seconds()
	progress("jetstream: every stream read back %.2fs after the restart began (%d ok, %d failed)", res.RestartRead, res.ReadBack.OK, res.ReadBack.Failed)
	if res.AfterRestart, err = measureIdleAll(ctx, servers, o, "jetstream cluster after restart"); err != nil {
		return res, err
	}
	nc.Close()
	unwatch(servers)
	stopMembers(servers, o.stopTimeout)
	if res.ReadBack.Failed > 0 {
		return res, fmt.Errorf("%d streams not read back after the restart", res.ReadBack.Failed)
	}
	return res, nil
}

// connectCluster connects to every server and waits until JetStream
// answers (the meta group has a leader).
func connectCluster(ctx context.Context, urls []string, timeout time.Duration) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := benchkit.ConnectJetStream(strings.Join(urls, ","), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nc, js, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("jetstream: no meta leader after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLeaders waits until the stream list shows n streams, each with a
// leader.
func waitLeaders(ctx context.Context, js jetstream.JetStream, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		led, listed := 0, 0
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l := js.ListStreams(lctx)
		for info := range l.Info() {
			listed++
			if info.Cluster != nil && info.Cluster.Leader != "" {
				led++
			}
		}
		err := l.Err()
		cancel()
		if err == nil && led >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("jetstream restart: %d of %d streams listed, %d with a leader after %s (%v)", listed, n, led, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readFirst reads stream i's first message with one direct-get request
// ($JS.API.STREAM.MSG.GET, last message of its subject) and checks it.
func readFirst(nc *nats.Conn) func(context.Context, string) error {
	return func(ctx context.Context, i string) error {
		var n int
		fmt.Sscan(i, &n)
		req, _ := json.Marshal(map[string]string{"last_by_subj": fmt.Sprintf("s%05d.first", n)})
		msg, err := nc.RequestWithContext(ctx, fmt.Sprintf("$JS.API.STREAM.MSG.GET.S%05d", n), req)
		if err != nil {
			return err
		}
		var reply struct {
			Message *struct {
				Data []byte `json:"data"`
			} `json:"message"`
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &reply); err != nil {
			return err
		}
		switch {
		case reply.Error != nil:
			return errors.New(reply.Error.Description)
		case reply.Message == nil || !bytes.Equal(reply.Message.Data, []byte("lbstores")):
			return fmt.Errorf("stream %d: first message not found or wrong: %s", n, msg.Data)
		}
		return nil
	}
}

// jetStreamClusterPhase runs the JetStream side of cluster mode in a work
// directory of its own, bounded by deadline (what -timeout left it).
func jetStreamClusterPhase(o *options, deadline time.Time) *jsClusterResult {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	dir, err := os.MkdirTemp("", "lbstores-jsc-")
	if err != nil {
		return &jsClusterResult{Err: err.Error()}
	}
	defer os.RemoveAll(dir)
	res, err := runJetStreamCluster(ctx, o, dir)
	if err != nil {
		progress("jetstream: %v", err)
	}
	return res
}

package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/logbookdb/logbook/tools/internal/child"
)

// Cluster mode (-nodes N, N ≥ 3): Logbook as it runs in production, each
// part a process of its own on 127.0.0.1: one NATS server (this binary as a
// natschild), N storenodes forming one cluster (-initial-size N), and one
// gateway; stores created with replication factor 3. Every process is
// measured on its own (RSS, fds, threads, idle CPU); creates are timed as in
// one-node mode (until the store runs); then one event per store, a restart
// of every storenode at once (SIGTERM all, start all, each timed to its
// ready line), and every store read back through the gateway.

const (
	storenodePkg = "github.com/logbookdb/logbook/services/storenode"
	gatewayPkg   = "github.com/logbookdb/logbook/services/gateway"
)

// clusterRF is the replication factor of the stores created in cluster mode.
const clusterRF = 3

// clusterResult is what cluster mode measured beyond the one-node report
// fields it shares (Create, Serving, Append, Read, List, ReadAfterRestart).
type clusterResult struct {
	Nodes        int           `json:"nodes"`
	Members      []string      `json:"members"` // storenode1..N, gateway, nats: the order of every per-member slice
	FirstStart   []startResult `json:"first_start"`
	Empty        []*idleResult `json:"idle_empty"`
	CreateCPU    []float64     `json:"create_cpu_pct"` // per member over the create phase, % of a core
	AfterCreate  []*idleResult `json:"idle_after_create"`
	Disk         diskUsage     `json:"disk_after_create"` // every storenode's data
	Stops        []stopResult  `json:"storenode_stops"`   // SIGTERM to every storenode at once
	Restarts     []startResult `json:"storenode_restarts"`
	RestartReady float64       `json:"restart_all_ready_s"` // start of the restart to the last ready line
	RestartRead  float64       `json:"restart_all_read_s"`  // start of the restart to every store read back
	AfterRestart []*idleResult `json:"idle_after_restart"`
	// With -hibernate-after > 0: every process once every store is
	// dormant, and after the restart before any read.
	Dormant        []*idleResult `json:"idle_dormant,omitempty"`
	RestartDormant []*idleResult `json:"idle_after_restart_dormant,omitempty"`
}

// runCluster runs cluster mode; the report holds whatever was measured
// before a failure, which is also returned.
func runCluster(o *options) (rep *report, err error) {
	ctx, cancel, dir, done, err := setUp(o)
	if err != nil {
		return nil, err
	}
	defer done()
	defer func() { explain(ctx, rep, &err) }()
	rep = newReport(o, dir)
	cr := &clusterResult{Nodes: o.nodes}
	rep.Cluster = cr

	progress("building %s and %s", storenodePkg, gatewayPkg)
	t := time.Now()
	snBin, err := child.Build(ctx, dir, storenodePkg)
	if err != nil {
		return rep, err
	}
	gwBin, err := child.Build(ctx, dir, gatewayPkg)
	if err != nil {
		return rep, err
	}
	rep.BuildS = time.Since(t).Seconds()
	rep.Env["source"] = sourceRevision(ctx)
	rep.Env["binary"] = snBin
	rep.Env["binary_version"] = binaryVersion(snBin)
	rep.Env["gateway_version"] = binaryVersion(gwBin)
	rep.Env["nats_server_version"] = benchkit.NATSServerVersion()
	rep.Env["nats_go_version"] = benchkit.NATSGoVersion()

	// NATS, then the storenodes (all at once: they form the cluster over
	// NATS), then the gateway.
	var nodes []*member
	var gw, ns *member
	all := func() []*member { return append(append([]*member(nil), nodes...), gw, ns) }
	defer func() {
		killMembers(nodes)
		killMembers([]*member{gw, ns})
		for _, m := range append(append([]*member(nil), nodes...), gw) {
			if m != nil { // a storenode's log holds both its runs
				ls := summarizeLog(m.srv.LogPath)
				ls.Name = m.name
				rep.Logs = append(rep.Logs, ls)
			}
		}
	}()
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return rep, err
	}
	if ns, err = startNATSMember("nats", fmt.Sprintf("server_name: lbstores-nats\nlisten: %q\nmax_payload: 8MB\n", addr), dir, o.verbose); err != nil {
		return rep, err
	}
	urls, _, err := waitReadyAll(ctx, []*member{ns}, 30*time.Second)
	if err != nil {
		return rep, err
	}
	url := urls[0]
	raft, err := freeAddrs(2 * o.nodes)
	if err != nil {
		return rep, err
	}
	metrics := raft[o.nodes:] // each storenode's -http
	raft = raft[:o.nodes]
	startNodes := func() error {
		nodes = nodes[:0]
		for i := 1; i <= o.nodes; i++ {
			args := []string{
				"-nats-url", url, "-node-id", strconv.Itoa(i), "-raft-addr", raft[i-1],
				"-cluster", "lbstores", "-initial-size", strconv.Itoa(o.nodes),
				"-data", filepath.Join(dir, fmt.Sprintf("node%d", i), "storenode"),
				"-max-stores", strconv.Itoa(o.stores + 1), "-max-replicas", strconv.Itoa(o.stores + 1), "-log-level", o.logLevel,
				"-http", metrics[i-1],
			}
			args = append(args, o.serverArgs()...)
			m, err := startMember(fmt.Sprintf("storenode%d", i), snBin, args, nil, dir, o.verbose, linePrefix("Storenode "))
			if err != nil {
				return err
			}
			nodes = append(nodes, m)
		}
		return nil
	}
	progress("starting %d storenodes", o.nodes)
	if err := startNodes(); err != nil {
		return rep, err
	}
	if _, cr.FirstStart, err = waitReadyAll(ctx, nodes, o.readyTimeout); err != nil {
		return rep, err
	}
	if gw, err = startMember("gateway", gwBin, []string{"-nats-url", url, "-log-level", o.logLevel}, nil, dir, o.verbose, linePrefix("Gateway is ready")); err != nil {
		return rep, err
	}
	if _, _, err = waitReadyAll(ctx, []*member{gw}, 30*time.Second); err != nil {
		return rep, err
	}
	for _, m := range all() {
		cr.Members = append(cr.Members, m.name)
	}
	rep.Env["server_max_open_files"] = openFilesLimit(nodes[0].srv.PID)
	watchAll(all(), o.maxRSS, cancel)
	progress("cluster ready: %d storenodes, gateway, NATS at %s", o.nodes, url)
	if cr.Empty, err = measureIdleAll(ctx, all(), o, "cluster empty: 1 store (default)"); err != nil {
		return rep, err
	}
	noteDormant(ctx, metrics, cr.Empty...)

	// Creates, R3.
	c, err := client.Connect(url)
	if err != nil {
		return rep, err
	}
	defer func() { c.Close() }()
	var probe *servingProbe
	if o.probe {
		probe = newServingProbe(c.Conn())
	}
	rf := int64(clusterRF)
	progress("creating %d stores (replication factor %d) with %d creators", o.stores, rf, o.concurrency)
	before, err := sampleAll(all(), false)
	if err != nil {
		return rep, err
	}
	rep.Create = createStores(ctx, c, groupMeasured(nodes), probe, createConfig{
		stores: o.stores, concurrency: o.concurrency, opTimeout: o.opTimeout, maxFailures: o.maxFailures,
		settings: &client.StoreSettings{ReplicationFactor: &rf},
	})
	if after, err := sampleAll(all(), false); err == nil {
		cr.CreateCPU = cpuBetween(before, after)
	}
	progress("created %d (existed %d, failed %d) in %.1fs: p50 %.1f ms, p99 %.1f ms", rep.Create.Created, rep.Create.Existed, rep.Create.Failed, rep.Create.TotalS, rep.Create.Latency.P50ms, rep.Create.Latency.P99ms)
	if probe != nil {
		end := time.Now()
		rep.Serving = probe.waitAll(ctx, end, o.serveTimeout)
		progress("served: %d of %d, all %.1fs after the last create", rep.Serving.Served, rep.Serving.Stores, rep.Serving.AllServedAfterS)
	}
	if rep.Create.Aborted != "" {
		return rep, errors.New("creates stopped: " + rep.Create.Aborted)
	}
	if cr.AfterCreate, err = measureIdleAll(ctx, all(), o, fmt.Sprintf("cluster after creates: %d stores", o.stores+1)); err != nil {
		return rep, err
	}
	cr.Disk = diskOfNodes(dir, o.nodes)
	noteDormant(ctx, metrics, cr.AfterCreate...)

	// One event per store, read back.
	ids := make([]string, o.stores)
	for i := range ids {
		ids[i] = storeID(i + 1)
	}
	runID := time.Now().UnixNano()
	progress("appending one event to each store")
	rep.Append = forEachStore(ctx, ids, o.concurrency, o.opTimeout, appendCheck(c, runID))
	progress("reading it back")
	rep.Read = forEachStore(ctx, ids, o.concurrency, o.opTimeout, readCheck(c, runID))
	lastRead := time.Now()
	if err := ctx.Err(); err != nil {
		return rep, context.Cause(ctx)
	}

	// With -hibernate-after: every store's replicas dormant, at rest.
	if o.dormancy() {
		rep.DormantWait = waitDormant(ctx, metrics, clusterRF*o.stores, lastRead, o.dormantBound())
		if err := ctx.Err(); err != nil {
			return rep, context.Cause(ctx)
		}
		if rep.DormantWait.reached() {
			if cr.Dormant, err = measureIdleAll(ctx, all(), o, fmt.Sprintf("cluster dormant: %d stores", o.stores)); err != nil {
				return rep, err
			}
			noteDormant(ctx, metrics, cr.Dormant...)
			if o.dormantGC > 0 {
				pids := make([]int, len(nodes))
				for i, m := range nodes {
					pids[i] = m.srv.PID
				}
				rep.DormantGC = memoryAfterGC(ctx, metrics, pids, rep.DormantWait.at, o.dormantGC)
			}
		}
	}

	// Every storenode stopped at once, started again; every store read back
	// through the gateway, which stays up.
	unwatch(nodes)
	progress("stopping every storenode (SIGTERM)")
	if cr.Stops, err = stopAll(nodes, o.stopTimeout, "storenode"); err != nil {
		return rep, err
	}
	progress("restarting every storenode")
	t0 := time.Now()
	if err := startNodes(); err != nil {
		return rep, err
	}
	_, cr.Restarts, err = waitReadyAll(ctx, nodes, o.readyTimeout)
	cr.RestartReady = time.Since(t0).Seconds()
	if err != nil {
		return rep, err
	}
	progress("every storenode ready %.2fs after the restart began", cr.RestartReady)
	watchAll(nodes, o.maxRSS, cancel)
	var paused time.Duration // measuring at rest and the wake reads one at a time, left out of RestartRead
	if o.dormancy() {
		// Before any request: the replicas dormant at the stop stay so.
		t = time.Now()
		if cr.RestartDormant, err = measureIdleAll(ctx, all(), o, fmt.Sprintf("cluster after restart, dormant: %d stores", o.stores)); err != nil {
			return rep, err
		}
		noteDormant(ctx, metrics, cr.RestartDormant...)
		rep.Wake = wakeReads(ctx, c, runID, ids, wakeSamples, o.opTimeout, metrics)
		rep.RandomRead = rep.Wake.first()
		paused = time.Since(t)
	} else {
		pick := ids[rand.IntN(len(ids))]
		rctx, rcancel := context.WithTimeout(ctx, o.opTimeout)
		t = time.Now()
		err = readCheck(c, runID)(rctx, pick)
		rcancel()
		rep.RandomRead = randomRead{Store: pick, MS: ms(time.Since(t)), Error: benchkit.ErrString(err)}
	}
	progress("reading every store back")
	rep.ReadAfterRestart = forEachStore(ctx, ids, o.concurrency, o.opTimeout, readCheck(c, runID))
	cr.RestartRead = (time.Since(t0) - paused).Seconds()
	progress("every store read back %.2fs after the restart began (%d ok, %d failed)", cr.RestartRead, rep.ReadAfterRestart.OK, rep.ReadAfterRestart.Failed)
	rep.List = listAll(ctx, c, ids)
	if err := ctx.Err(); err != nil {
		return rep, context.Cause(ctx)
	}
	if cr.AfterRestart, err = measureIdleAll(ctx, all(), o, fmt.Sprintf("cluster after restart: %d stores", o.stores+1)); err != nil {
		return rep, err
	}
	noteDormant(ctx, metrics, cr.AfterRestart...)
	c.Close()
	unwatch(all())
	stopMembers([]*member{gw}, o.stopTimeout)
	rep.Stops, err = stopAll(nodes, o.stopTimeout, "storenode (at the end)")
	stopMembers([]*member{ns}, o.stopTimeout)
	return rep, err
}

// diskOfNodes is the disk use of every storenode's data directory.
func diskOfNodes(dir string, nodes int) diskUsage {
	var u diskUsage
	for i := 1; i <= nodes; i++ {
		d := measureDisk(filepath.Join(dir, fmt.Sprintf("node%d", i)))
		u.Bytes += d.Bytes
		u.Files += d.Files
		u.Dirs += d.Dirs
	}
	return u
}

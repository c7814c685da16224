package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printCluster prints cluster mode: the creates and checks as in one-node
// mode, then every process side by side with JetStream's servers, then the
// figures of the whole systems, with ratios Logbook / JetStream (below 1:
// Logbook's is lower).
func (r *report) printCluster(w io.Writer) {
	e, o, c, j := r.Env, r.Options, r.Cluster, r.JetStreamCluster
	fmt.Fprintf(w, "\nlbstores, cluster mode: %s stores with replication factor %d, %s creators; %s %s, %s CPUs\n", o["stores"], clusterRF, o["concurrency"], e["go"], e["os_arch"], e["cpus"])
	src := ""
	if e["source"] != "" {
		src = "built from commit " + e["source"] + "; "
	}
	fmt.Fprintf(w, "Logbook: %d storenodes, 1 gateway, 1 NATS server (nats-server %s), each a process; %sstorenode %s; gateway %s; max open files %s\n",
		c.Nodes, e["nats_server_version"], src, e["binary_version"], e["gateway_version"], e["server_max_open_files"])
	if j != nil {
		fmt.Fprintf(w, "JetStream: %d nats-servers %s (client nats.go %s), cluster routes, file storage, sync_interval always; R3 streams\n", len(j.Servers), j.Version, j.ClientVer)
	}
	fmt.Fprintf(w, "data in %s; idle = CPU over %s after %s of rest, in %% of one core\n", e["dir"], o["idle"], o["settle"])
	fmt.Fprintf(w, "(below, the server CPU and the checkpoints' RSS, fds and threads are the %d storenodes summed; the peak RSS is the largest storenode's)\n\n", c.Nodes)
	r.printCreates(w)
	r.printOps(w)
	r.printDormancy(w)
	r.printClusterProcs(w)
	r.printClusterSystem(w)
	fmt.Fprintln(w)
	r.printLogs(w)
	if j != nil && j.Err != "" {
		fmt.Fprintf(w, "\nJETSTREAM FAILED: %s\n", strings.TrimSpace(j.Err))
	}
	if r.Failure != "" {
		fmt.Fprintf(w, "\nRUN FAILED: %s\n", strings.TrimSpace(r.Failure))
	}
}

// printClusterProcs prints one column per process. The ratios: "per node"
// is a storenode's mean over a JetStream server's mean; "system" is every
// Logbook process (gateway and NATS included) summed over every JetStream
// server summed, or for times the slowest over the slowest.
func (r *report) printClusterProcs(w io.Writer) {
	c, j := r.Cluster, r.JetStreamCluster
	var jsNames []string
	if j != nil {
		jsNames = j.Servers
	}
	fmt.Fprintln(w, "Per process: Logbook's storenodes, gateway and NATS server; JetStream's servers")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t|\t%s\t|\tper node\tsystem\t\n", strings.Join(c.Members, "\t"), strings.Join(padNames(jsNames), "\t"))
	row := func(name, format string, lb, js []float64, slowest bool) {
		if lb == nil && js == nil {
			return
		}
		fmt.Fprintf(tw, "%s\t", name)
		cells := func(v []float64, n int) {
			for i := range n {
				if i < len(v) {
					fmt.Fprintf(tw, format+"\t", v[i])
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
		}
		cells(lb, len(c.Members))
		fmt.Fprint(tw, "|\t")
		cells(js, max(len(jsNames), 1))
		fmt.Fprint(tw, "|\t")
		nodes := lb[:min(c.Nodes, len(lb))]
		fmt.Fprintf(tw, "%s\t", ratio(mean(nodes), mean(js)))
		if slowest {
			fmt.Fprintf(tw, "%s\t\n", ratio(maxOf(lb), maxOf(js)))
		} else {
			fmt.Fprintf(tw, "%s\t\n", ratio(sum(lb), sum(js)))
		}
	}
	idle := func(label string, lb []*idleResult, js func(*jsClusterResult) []*idleResult) {
		var jx []*idleResult
		if j != nil {
			jx = js(j)
		}
		if lb == nil {
			return
		}
		row(label+": RSS MiB", "%.0f", idleField(lb, func(i *idleResult) float64 { return i.RSSMiB }), idleField(jx, func(i *idleResult) float64 { return i.RSSMiB }), false)
		row(label+": idle CPU %", "%.1f", idleField(lb, func(i *idleResult) float64 { return i.CPUPct }), idleField(jx, func(i *idleResult) float64 { return i.CPUPct }), false)
		row(label+": fds", "%.0f", idleField(lb, func(i *idleResult) float64 { return float64(i.FDs) }), idleField(jx, func(i *idleResult) float64 { return float64(i.FDs) }), false)
		row(label+": threads", "%.0f", idleField(lb, func(i *idleResult) float64 { return float64(i.Threads) }), idleField(jx, func(i *idleResult) float64 { return float64(i.Threads) }), false)
		if r.DormantWait != nil {
			fmt.Fprintf(tw, "%s: dormant replicas\t", label)
			for _, i := range lb {
				fmt.Fprintf(tw, "%s\t", dormantCell(i))
			}
			fmt.Fprintf(tw, "|\t%s|\t-\t-\t\n", strings.Repeat("-\t", max(len(jsNames), 1)))
			fmt.Fprintf(tw, "%s: Go heap in use MiB\t", label)
			for _, i := range lb {
				fmt.Fprintf(tw, "%s\t", heapCell(i))
			}
			fmt.Fprintf(tw, "|\t%s|\t-\t-\t\n", strings.Repeat("-\t", max(len(jsNames), 1)))
		}
	}
	idle("empty", c.Empty, func(j *jsClusterResult) []*idleResult { return j.Empty })
	var jsCPU []float64
	if j != nil {
		jsCPU = j.CreateCPU
	}
	row("CPU during creates %", "%.0f", c.CreateCPU, jsCPU, false)
	idle("after creates", c.AfterCreate, func(j *jsClusterResult) []*idleResult { return j.AfterCreate })
	idle("dormant (JS: after creates)", c.Dormant, func(j *jsClusterResult) []*idleResult { return j.AfterCreate })
	var jsStops, jsStarts, jsFirst []float64
	if j != nil {
		jsStops, jsStarts, jsFirst = stopTimes(j.Stops), startTimes(j.Restarts), startTimes(j.FirstStart)
	}
	row("first start to ready s", "%.2f", startTimes(c.FirstStart), jsFirst, true)
	row("stop (SIGTERM all) s", "%.2f", stopTimes(c.Stops), jsStops, true)
	row("restart to ready line s", "%.2f", startTimes(c.Restarts), jsStarts, true)
	idle("after restart, dormant (JS: after restart)", c.RestartDormant, func(j *jsClusterResult) []*idleResult { return j.AfterRestart })
	idle("after restart", c.AfterRestart, func(j *jsClusterResult) []*idleResult { return j.AfterRestart })
	tw.Flush()
	fmt.Fprintln(w, "  Times are per storenode only: the gateway and Logbook's NATS server keep running through the restart.")
	if c.Dormant != nil || c.RestartDormant != nil {
		fmt.Fprintln(w, "  JetStream has no dormant streams: Logbook's dormant rows are compared with JetStream's servers at rest with every stream (JS: the row used).")
	}
	fmt.Fprintln(w)
}

// printClusterSystem prints the figures of each system as a whole.
func (r *report) printClusterSystem(w io.Writer) {
	c, j := r.Cluster, r.JetStreamCluster
	if j == nil {
		return
	}
	fmt.Fprintln(w, "Whole system: Logbook R3 stores vs JetStream R3 streams, same count, same creators")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tLogbook\tJetStream\tLogbook / JetStream\t\n")
	row := func(name string, lb, js float64, unit string) {
		fmt.Fprintf(tw, "%s\t%.1f %s\t%.1f %s\t%s\t\n", name, lb, unit, js, unit, ratio(lb, js))
	}
	if cr := r.Create; cr != nil {
		row("create p50", cr.Latency.P50ms, j.Create.P50ms, "ms")
		row("create p99", cr.Latency.P99ms, j.Create.P99ms, "ms")
		row("creates per second (inverse)", 1000/max(cr.PerSec, 0.001), 1000/max(j.CreateRate, 0.001), "ms/create")
		fmt.Fprintf(tw, "created / failed\t%d / %d\t%d / %d\t\t\n", cr.Created+cr.Existed, cr.Failed, j.Create.Count, j.Failed)
	}
	row("disk after creates", float64(c.Disk.Bytes)/(1<<20), float64(j.Disk.Bytes)/(1<<20), "MiB")
	row("restart to every ready line", c.RestartReady, j.RestartReady, "s")
	row("restart to every store led", c.RestartReady, j.RestartLead, "s")
	row("restart to every store read back", c.RestartRead, j.RestartRead, "s")
	if c.RestartDormant != nil {
		fmt.Fprintln(tw, "  (Logbook's: without its idle measurement and one-at-a-time wake reads before the reads)\t\t\t\t")
	}
	if rr, jr := r.ReadAfterRestart, j.ReadBack; rr != nil && jr != nil {
		fmt.Fprintf(tw, "read back after restart: ok / failed\t%d / %d\t%d / %d\t\t\n", rr.OK, rr.Failed, jr.OK, jr.Failed)
	}
	tw.Flush()
	fmt.Fprintln(w, "  Logbook's create counts until the store runs (stores.create's reply); JetStream's until the stream exists and its first message is acknowledged.")
	fmt.Fprintln(w, "  Every store led: Logbook's ready line waits for a leader of each replica the storenode holds; JetStream's: every stream listed with a leader.")
	if c.RestartDormant != nil {
		fmt.Fprintln(w, "  (Logbook's ready line does not wait for dormant stores: they have no leader until a request wakes them.)")
	}
	fmt.Fprintln(w, "  Read back: Logbook reads each store's event through the gateway; JetStream gets each stream's first message with one direct request.")
	for _, e := range j.FirstErrors {
		fmt.Fprintf(w, "  jetstream error: %s\n", e)
	}
}

func padNames(names []string) []string {
	if len(names) == 0 {
		return []string{"JetStream"}
	}
	return names
}

func idleField(rs []*idleResult, f func(*idleResult) float64) []float64 {
	if rs == nil {
		return nil
	}
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func startTimes(s []startResult) []float64 {
	if s == nil {
		return nil
	}
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = x.ReadyS
	}
	return out
}

func stopTimes(s []stopResult) []float64 {
	if s == nil {
		return nil
	}
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = x.S
	}
	return out
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return sum(v) / float64(len(v))
}

func maxOf(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// ratio is a / b to two decimals, "-" when either is not positive.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

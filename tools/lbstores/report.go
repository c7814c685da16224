package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// report collects the results of a run; it prints as tables and saves as JSON.
type report struct {
	Env     map[string]string `json:"env"`
	Options map[string]string `json:"options"`
	BuildS  float64           `json:"build_s,omitempty"`

	Starts            []startResult    `json:"starts"` // the first start, then the restart
	Stops             []stopResult     `json:"stops"`
	Empty             *idleResult      `json:"idle_empty,omitempty"`
	Create            *createResult    `json:"create,omitempty"`
	Serving           *servingResult   `json:"serving,omitempty"`
	AfterCreate       *idleResult      `json:"idle_after_create,omitempty"`
	Soak              []soakSample     `json:"soak,omitempty"`
	Append            *opsResult       `json:"append,omitempty"`
	Read              *opsResult       `json:"read,omitempty"`
	AfterAppendRSSMiB float64          `json:"rss_after_append_mib,omitempty"`
	List              *listResult      `json:"list_after_restart,omitempty"`
	RandomRead        randomRead       `json:"random_read_after_restart"`
	ReadAfterRestart  *opsResult       `json:"read_after_restart,omitempty"`
	AfterRestart      *idleResult      `json:"idle_after_restart,omitempty"`
	DormantWait       *dormantWait     `json:"dormant_wait,omitempty"`               // -hibernate-after > 0
	Dormant           *idleResult      `json:"idle_dormant,omitempty"`               // one node: every store dormant
	RestartDormant    *idleResult      `json:"idle_after_restart_dormant,omitempty"` // one node: after the restart, before any read
	Wake              *wakeResult      `json:"wake_after_restart,omitempty"`
	DormantGC         *gcMemory        `json:"memory_dormant_after_gc,omitempty"`
	Logs              []logSummary     `json:"server_logs,omitempty"`
	JetStream         *jsResult        `json:"jetstream,omitempty"`
	Cluster           *clusterResult   `json:"cluster,omitempty"`           // cluster mode (-nodes > 1)
	JetStreamCluster  *jsClusterResult `json:"jetstream_cluster,omitempty"` // its peer
	Failure           string           `json:"failure,omitempty"`
}

type startResult struct {
	ReadyS float64 `json:"ready_s"` // exec to "Logbook is ready"
	Error  string  `json:"error,omitempty"`
}

type stopResult struct {
	S     float64 `json:"s"` // SIGTERM to exit
	Error string  `json:"error,omitempty"`
}

type randomRead struct {
	Store string  `json:"store"`
	MS    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

// idleResult is the server at rest: CPU over an idle window, memory, fds
// and threads at its end.
type idleResult struct {
	Label        string       `json:"label"`
	IdleS        float64      `json:"idle_s"`
	CPUPct       float64      `json:"cpu_pct"` // % of one core
	RSSMiB       float64      `json:"rss_mib"`
	AnonMiB      float64      `json:"rss_anon_mib"`
	FileMiB      float64      `json:"rss_file_mib"`
	HWMMiB       float64      `json:"peak_rss_mib"` // VmHWM: peak since the process started
	FDs          int          `json:"fds"`
	FDDetail     *fdBreakdown `json:"fd_detail,omitempty"`
	Threads      int          `json:"threads"`
	Disk         diskUsage    `json:"disk,omitzero"`
	Dormant      *int         `json:"dormant_replicas,omitempty"`  // at the end, from the node's /metrics
	HeapInuseMiB *float64     `json:"go_heap_inuse_mib,omitempty"` // likewise (go_memstats_heap_inuse_bytes)
}

func newReport(o *options, dir string) *report {
	return &report{
		Env: benchkit.Environment(dir),
		Options: map[string]string{
			"stores":          fmt.Sprint(o.stores),
			"concurrency":     fmt.Sprint(o.concurrency),
			"idle":            o.idle.String(),
			"settle":          o.settle.String(),
			"op_timeout":      o.opTimeout.String(),
			"ready_timeout":   o.readyTimeout.String(),
			"stop_timeout":    o.stopTimeout.String(),
			"timeout":         o.timeout.String(),
			"max_rss_mib":     fmt.Sprint(o.maxRSS),
			"log_level":       o.logLevel,
			"soak":            o.soak.String(),
			"nodes":           fmt.Sprint(o.nodes),
			"hibernate_after": hibernateOption(o),
		},
	}
}

func hibernateOption(o *options) string {
	if o.hibernate == nil {
		return "server default"
	}
	return o.hibernate.String()
}

func (r *report) print(w io.Writer) {
	if r.Cluster != nil {
		r.printCluster(w)
		return
	}
	e, o := r.Env, r.Options
	fmt.Fprintf(w, "\nlbstores: %s stores, %s creators; %s %s, %s CPUs\n", o["stores"], o["concurrency"], e["go"], e["os_arch"], e["cpus"])
	src := ""
	if e["source"] != "" {
		src = "built from commit " + e["source"] + "; "
	}
	fmt.Fprintf(w, "server: %s (%s%s; max open files %s)\n", e["binary"], src, e["binary_version"], e["server_max_open_files"])
	fmt.Fprintf(w, "data in %s; idle = server CPU over %s after %s of rest, in %% of one core\n\n", e["dir"], o["idle"], o["settle"])

	r.printCreates(w)

	idles := []*idleResult{r.Empty, r.AfterCreate, r.AfterRestart}
	if r.DormantWait != nil { // columns in the order of the run
		idles = []*idleResult{r.Empty, r.AfterCreate, r.Dormant, r.RestartDormant, r.AfterRestart}
	}
	if r.Empty != nil {
		fmt.Fprintln(w, "Server at rest")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		row := func(name string, f func(*idleResult) string) {
			fmt.Fprintf(tw, "%s\t", name)
			for _, i := range idles {
				if i == nil {
					fmt.Fprint(tw, "-\t")
				} else {
					fmt.Fprintf(tw, "%s\t", f(i))
				}
			}
			fmt.Fprintln(tw)
		}
		row("", func(i *idleResult) string { return i.Label })
		row("idle CPU (% of a core)", func(i *idleResult) string { return fmt.Sprintf("%.1f%%", i.CPUPct) })
		row("RSS MiB", func(i *idleResult) string { return fmt.Sprintf("%.0f", i.RSSMiB) })
		row("  anon / file MiB", func(i *idleResult) string { return fmt.Sprintf("%.0f / %.0f", i.AnonMiB, i.FileMiB) })
		row("  peak so far MiB", func(i *idleResult) string { return fmt.Sprintf("%.0f", i.HWMMiB) })
		row("open fds", func(i *idleResult) string { return fmt.Sprint(i.FDs) })
		row("  store / raft / socket / other", func(i *idleResult) string {
			if d := i.FDDetail; d != nil {
				return fmt.Sprintf("%d / %d / %d / %d", d.StoreFiles, d.RaftFiles, d.Sockets, d.Other)
			}
			return "-"
		})
		row("threads", func(i *idleResult) string { return fmt.Sprint(i.Threads) })
		row("dormant replicas (/metrics)", dormantCell)
		row("Go heap in use MiB (/metrics)", heapCell)
		tw.Flush()
		if a, b := r.Empty, r.AfterCreate; a != nil && b != nil {
			n := float64(r.Create.Created + r.Create.Existed)
			if n > 0 {
				fmt.Fprintf(w, "per store (after creates - empty) / %.0f: %.0f KiB RSS, %.2f fds, %.3f threads, %.4f%% of a core idle\n",
					n, (b.RSSMiB-a.RSSMiB)*1024/n, float64(b.FDs-a.FDs)/n, float64(b.Threads-a.Threads)/n, (b.CPUPct-a.CPUPct)/n)
			}
			fmt.Fprintf(w, "data on disk after creates: %.1f MiB in %d files, %d directories\n", float64(b.Disk.Bytes)/(1<<20), b.Disk.Files, b.Disk.Dirs)
		}
		fmt.Fprintln(w)
	}

	if len(r.Soak) > 0 {
		fmt.Fprintln(w, "Soak: the idle server after the creates, sampled every minute")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "after\tRSS MiB\tfds\tdata files\tCPU since previous\t")
		for _, s := range r.Soak {
			fmt.Fprintf(tw, "%.0fs\t%.0f\t%d\t%d\t%.1f%%\t\n", s.AfterS, s.RSSMiB, s.FDs, s.Files, s.CPUPct)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}

	r.printOps(w)
	r.printDormancy(w)

	fmt.Fprintln(w, "Start-up and shutdown")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.BuildS > 0 {
		fmt.Fprintf(tw, "  build\t%.1fs\n", r.BuildS)
	}
	names := []string{"first start (empty) to ready", "restart (all stores) to ready"}
	for i, s := range r.Starts {
		fmt.Fprintf(tw, "  %s\t%.2fs%s\n", names[min(i, 1)], s.ReadyS, failed(s.Error))
	}
	stops := []string{"shutdown after creates (SIGTERM to exit)", "shutdown at the end"}
	for i, s := range r.Stops {
		fmt.Fprintf(tw, "  %s\t%.2fs%s\n", stops[min(i, 1)], s.S, failed(s.Error))
	}
	if l := r.List; l != nil {
		fmt.Fprintf(tw, "  stores.list after restart\t%d stores in %d pages (%.2fs), %d of ours missing, statuses %v%s\n",
			l.Listed, l.Pages, l.TotalS, l.Missing, l.ByStatus, failed(l.Error))
	}
	if r.RandomRead.Store != "" {
		what := "random store's event after restart"
		if r.Wake != nil {
			what = "first random store's event after restart (a dormant store's wake)"
		}
		fmt.Fprintf(tw, "  %s\t%s: %.1f ms%s\n", what, r.RandomRead.Store, r.RandomRead.MS, failed(r.RandomRead.Error))
	}
	tw.Flush()
	fmt.Fprintln(w)

	r.printLogs(w)
	r.printJetStream(w)
	if r.Failure != "" {
		fmt.Fprintf(w, "\nRUN FAILED: %s\n", strings.TrimSpace(r.Failure))
	}
}

func failed(err string) string {
	if err == "" {
		return ""
	}
	if i := strings.IndexByte(err, '\n'); i >= 0 {
		err = err[:i] + " (…)"
	}
	return "  FAILED: " + err
}

// printCreates prints the create phase and when the stores were served.
func (r *report) printCreates(w io.Writer) {
	if c := r.Create; c != nil {
		fmt.Fprintln(w, "Creates (stores.create until the store runs)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  created / existed / failed\t%d / %d / %d of %d\n", c.Created, c.Existed, c.Failed, c.Requested)
		fmt.Fprintf(tw, "  total\t%.1fs (%.1f creates/s)\n", c.TotalS, c.PerSec)
		l := c.Latency
		fmt.Fprintf(tw, "  latency p50 / p90 / p99 / max\t%.0f / %.0f / %.0f / %.0f ms (mean %.0f ms)\n", l.P50ms, l.P90ms, l.P99ms, l.MaxMs, l.Mean)
		fmt.Fprintf(tw, "  replies still \"creating\"\t%d (finished by polling status)\n", c.SlowReplies)
		fmt.Fprintf(tw, "  server CPU during creates\t%.0f%% of a core\n", c.CPUPct)
		fmt.Fprintf(tw, "  server peak RSS\t%.0f MiB\n", c.PeakRSSMiB)
		if c.Aborted != "" {
			fmt.Fprintf(tw, "  STOPPED\t%s\n", c.Aborted)
		}
		tw.Flush()
		for _, e := range c.FirstErrors {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stores\telapsed\tRSS MiB\tanon MiB\tfds\tthreads\tserver CPU\tcreates/s\tp50 ms\tp99 ms\t")
		for _, p := range c.Checkpoints {
			fmt.Fprintf(tw, "%d\t%.1fs\t%.0f\t%.0f\t%d\t%d\t%.0f%%\t%.1f\t%.0f\t%.0f\t\n",
				p.Stores, p.ElapsedS, p.RSSMiB, p.AnonMiB, p.FDs, p.Threads, p.CPUPct, p.PerSec, p.SegmentP50, p.SegmentP99)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if s := r.Serving; s != nil {
		fmt.Fprintln(w, "Serving (the store's leader subscribed on NATS; until then requests wait in the gateway)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  served\t%d of %d created\n", s.Served, s.Stores)
		fmt.Fprintf(tw, "  not yet served when the last create returned\t%d\n", s.UnservedAtEnd)
		if s.AllServedAfterS >= 0 {
			fmt.Fprintf(tw, "  all served\t%.1fs after the last create returned\n", s.AllServedAfterS)
		} else {
			fmt.Fprintf(tw, "  all served\tNOT within -serve-timeout\n")
		}
		l, t := s.LagAfterCreate, s.CreateToServed
		fmt.Fprintf(tw, "  create returned → served p50 / p99 / max\t%.0f / %.0f / %.0f ms\n", l.P50ms, l.P99ms, l.MaxMs)
		fmt.Fprintf(tw, "  create sent → served p50 / p99 / max\t%.0f / %.0f / %.0f ms\n", t.P50ms, t.P99ms, t.MaxMs)
		fmt.Fprintf(tw, "  probe\t%d requests, passes every ≤ %.0f ms (resolution)\n", s.ProbeRequests, s.ProbeIntervalMax)
		tw.Flush()
		fmt.Fprintln(w)
	}

}

// printOps prints the append and the reads of one event per store.
func (r *report) printOps(w io.Writer) {
	if r.Append != nil {
		fmt.Fprintln(w, "One event per store")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tok\tfailed\ttotal\tp50 ms\tp99 ms\tmax ms\t")
		for _, x := range []struct {
			name string
			r    *opsResult
		}{{"append", r.Append}, {"read back", r.Read}, {"read after restart", r.ReadAfterRestart}} {
			if x.r == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1fs\t%.1f\t%.1f\t%.1f\t\n", x.name, x.r.OK, x.r.Failed, x.r.TotalS, x.r.Latency.P50ms, x.r.Latency.P99ms, x.r.Latency.MaxMs)
		}
		tw.Flush()
		for _, x := range []*opsResult{r.Append, r.Read, r.ReadAfterRestart} {
			if x != nil {
				for _, e := range x.FirstErrors {
					fmt.Fprintf(w, "  error: %s\n", e)
				}
			}
		}
		if r.AfterAppendRSSMiB > 0 {
			fmt.Fprintf(w, "RSS after the appends and reads: %.0f MiB\n", r.AfterAppendRSSMiB)
		}
		fmt.Fprintln(w)
	}

}

// printLogs counts the warnings and errors of each server log.
func (r *report) printLogs(w io.Writer) {
	for i, l := range r.Logs {
		name := fmt.Sprintf("Server log %d", i+1)
		if l.Name != "" {
			name = "Log of " + l.Name
		}
		fmt.Fprintf(w, "%s: %d warnings, %d errors\n", name, l.Warnings, l.Errors)
		for _, s := range l.Samples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

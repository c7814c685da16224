package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// appendResult is the outcome of one scenario on one system.
type appendResult struct {
	System    string `json:"system"`
	Round     int    `json:"round"`
	Clients   int    `json:"clients"`
	Stores    int    `json:"stores"`
	Streams   int    `json:"streams"`
	EventSize int    `json:"event_size"`
	benchkit.Throughput
	CPU         map[string]float64 `json:"cpu_pct"`       // CPU use by role during the measured phase, % of one core
	CPUPerOpUs  float64            `json:"cpu_per_op_us"` // all processes' CPU per successful append
	WarmupSec   float64            `json:"warmup_s"`
	Fsyncs      int64              `json:"fsyncs,omitempty"`        // fsync+fdatasync calls of the servers in the measured phase (-count-fsyncs)
	FsyncsPerOp float64            `json:"fsyncs_per_op,omitempty"` // per successful append
	Load1       string             `json:"loadavg_1m"`              // the machine's 1-minute load average after the scenario
	Verify      verifyResult       `json:"verify"`
	FirstError  string             `json:"first_error,omitempty"`
}

func newAppendResult(sys string, sc scenario, out benchkit.Outcome, warmup time.Duration) appendResult {
	return appendResult{
		System: sys, Round: sc.round, Clients: sc.clients, Stores: sc.set.n, Streams: sc.streams, EventSize: sc.eventSize,
		Throughput: out.Throughput(),
		WarmupSec:  warmup.Seconds(),
		FirstError: benchkit.ErrString(out.FirstError),
	}
}

// report collects the results of a run.
type report struct {
	benchkit.RunInfo
	Idle    []idleCPU      `json:"idle"`
	Appends []appendResult `json:"appends"`
	pids    []int          // every child started, for tests
}

// idleCPU is a system's CPU use with its stores created and no load.
type idleCPU struct {
	System string             `json:"system"`
	CPU    map[string]float64 `json:"cpu_pct"`
}

func (r *report) printHeader(w io.Writer) {
	e, o := r.Env, r.Options
	fmt.Fprintf(w, "lbcluster: Logbook R3 (3 storenodes, %s gateway(s), 1 NATS server) vs JetStream R3 (3 servers, file storage), sync settings %s\n", o["gateways"], o["jetstream"])
	fmt.Fprintf(w, "nats-server %s, nats.go %s (both systems); js-always: sync_interval: always (fsync before every ack); js-default: JetStream's default (fsync every 2 min)\n",
		e["nats_server"], e["nats_go"])
	fmt.Fprintf(w, "%s %s, %s CPUs; data in %s; write+fsync of 4 KiB there: %s; load average %s\n",
		e["go"], e["os_arch"], e["cpus"], e["dir"], e["fsync_4k"], e["loadavg_start"])
	fmt.Fprintf(w, "%s streams, %s-byte events, %s per scenario, clients %s, stores %s, rounds %s\n\n",
		o["streams"], o["event_size"], o["duration"], o["clients"], o["stores"], o["rounds"])
}

// printRuns prints every scenario of every round.
func (r *report) printRuns(w io.Writer) {
	fmt.Fprintln(w, "Every scenario (one event per append, expected revision checked, one NATS connection per client).")
	fmt.Fprintln(w, "cpu: % of one core during the measured phase, by process role (tool = the load generator).")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tstores\tclients\tsystem\tappends/s\tp50\tp99\tmax\terrors\tverified\tlost\tmismatch\tcpu/append\tload\tcpu by role\t")
	for _, a := range r.Appends {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", a.Round, a.Stores, a.Clients, a.System,
			a.PerSec, benchkit.FmtUs(a.P50us), benchkit.FmtUs(a.P99us), benchkit.FmtUs(a.MaxUs), a.Errors, a.Verify.Checked, a.Verify.Lost, a.Verify.Mismatches,
			benchkit.FmtUs(a.CPUPerOpUs), a.Load1, fmtCPU(a.CPU))
	}
	tw.Flush()
	if slices.ContainsFunc(r.Appends, func(a appendResult) bool { return a.Fsyncs > 0 }) {
		fmt.Fprintln(w, "\nfsync+fdatasync calls of all the system's server processes during the measured phase (perf stat):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\tstores\tclients\tsystem\tfsyncs/s\tfsyncs/append\t")
		for _, a := range r.Appends {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%.0f\t%.2f\t\n", a.Round, a.Stores, a.Clients, a.System,
				float64(a.Fsyncs)/a.ElapsedSec, a.FsyncsPerOp)
		}
		tw.Flush()
	}
	for _, a := range r.Appends {
		if a.FirstError != "" {
			fmt.Fprintf(w, "first error, round %d, %s, %d stores, %d clients: %s\n", a.Round, a.System, a.Stores, a.Clients, a.FirstError)
		}
	}
	fmt.Fprintln(w)
}

func (r *report) find(sys string, round, stores, clients int) *appendResult {
	for i := range r.Appends {
		if a := &r.Appends[i]; a.System == sys && a.Round == round && a.Stores == stores && a.Clients == clients {
			return a
		}
	}
	return nil
}

func (r *report) dims() (rounds, stores, clients []int) {
	for _, a := range r.Appends {
		if !slices.Contains(rounds, a.Round) {
			rounds = append(rounds, a.Round)
		}
		if !slices.Contains(stores, a.Stores) {
			stores = append(stores, a.Stores)
		}
		if !slices.Contains(clients, a.Clients) {
			clients = append(clients, a.Clients)
		}
	}
	sort.Ints(rounds)
	sort.Ints(stores)
	sort.Ints(clients)
	return
}

// systems are the systems in the results, JetStreams first (in run order),
// Logbook last.
func (r *report) systems() []string {
	var out []string
	for _, a := range r.Appends {
		if a.System != "logbook" && !slices.Contains(out, a.System) {
			out = append(out, a.System)
		}
	}
	if slices.ContainsFunc(r.Appends, func(a appendResult) bool { return a.System == "logbook" }) {
		out = append(out, "logbook")
	}
	return out
}

// printSummary prints each configuration as min–max over the rounds, with
// Logbook's ratios against each JetStream (appends/s, p50, CPU per append)
// and many stores/one store, each computed within a round (same machine
// state) and then given as a range.
func (r *report) printSummary(w io.Writer) {
	rounds, stores, clients := r.dims()
	systems := r.systems()
	fmt.Fprintf(w, "Summary over %d round(s): min–max. Ratios are computed within each round.\n", len(rounds))
	fmt.Fprintln(w, "lb/<js>: Logbook / that JetStream (for p50 and cpu/append, below 1 is better for Logbook).")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stores\tclients\tsystem\tappends/s\tp50\tp99\tcpu/append\t")
	for _, s := range stores {
		for _, c := range clients {
			for _, sys := range systems {
				var rate, p50, p99, cpu []float64
				for _, rd := range rounds {
					if a := r.find(sys, rd, s, c); a != nil {
						rate, p50, p99, cpu = append(rate, a.PerSec), append(p50, a.P50us), append(p99, a.P99us), append(cpu, a.CPUPerOpUs)
					}
				}
				if len(rate) == 0 {
					continue
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", s, c, sys, fmtRange(rate, "%.0f"), fmtRangeUs(p50), fmtRangeUs(p99), fmtRangeUs(cpu))
			}
			for _, js := range systems {
				if js == "logbook" {
					continue
				}
				var rr, p50, cpu []float64
				for _, rd := range rounds {
					lb, j := r.find("logbook", rd, s, c), r.find(js, rd, s, c)
					if lb != nil && j != nil {
						rr = append(rr, benchkit.Ratio(lb.PerSec, j.PerSec))
						p50 = append(p50, benchkit.Ratio(lb.P50us, j.P50us))
						cpu = append(cpu, benchkit.Ratio(lb.CPUPerOpUs, j.CPUPerOpUs))
					}
				}
				if len(rr) > 0 {
					fmt.Fprintf(tw, "%d\t%d\tlb/%s\t%s\t%s\t\t%s\t\n", s, c, js, fmtRange(rr, "%.2fx"), fmtRange(p50, "%.2fx"), fmtRange(cpu, "%.2fx"))
				}
			}
		}
	}
	tw.Flush()
	if len(stores) > 1 {
		lo, hi := stores[0], stores[len(stores)-1]
		fmt.Fprintf(w, "\n%d stores / %d store (appends/s):\n", hi, lo)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "clients\tsystem\tratio\t")
		for _, c := range clients {
			for _, sys := range systems {
				var rr []float64
				for _, rd := range rounds {
					a, b := r.find(sys, rd, hi, c), r.find(sys, rd, lo, c)
					if a != nil && b != nil {
						rr = append(rr, benchkit.Ratio(a.PerSec, b.PerSec))
					}
				}
				if len(rr) > 0 {
					fmt.Fprintf(tw, "%d\t%s\t%s\t\n", c, sys, fmtRange(rr, "%.2fx"))
				}
			}
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
}

func fmtRange(v []float64, f string) string {
	lo, hi := slices.Min(v), slices.Max(v)
	if fmt.Sprintf(f, lo) == fmt.Sprintf(f, hi) {
		return fmt.Sprintf(f, lo)
	}
	return fmt.Sprintf(f, lo) + "–" + fmt.Sprintf(f, hi)
}

func fmtRangeUs(v []float64) string {
	lo, hi := slices.Min(v), slices.Max(v)
	if benchkit.FmtUs(lo) == benchkit.FmtUs(hi) {
		return benchkit.FmtUs(lo)
	}
	return benchkit.FmtUs(lo) + "–" + benchkit.FmtUs(hi)
}

func fmtCPU(m map[string]float64) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	order := map[string]int{"tool": 0, "nats": 1, "gateway": 2, "storenode": 3, "jetstream": 4}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// report collects the results of a run; it prints as tables and saves as JSON.
type report struct {
	benchkit.RunInfo
	Appends []appendResult `json:"appends"`
	Reads   []readResult   `json:"reads"`
	Idle    *idleResult    `json:"idle"`
}

func (r *report) printHeader(w io.Writer) {
	e, o := r.Env, r.Options
	fmt.Fprintf(w, "lbbench: Logbook vs JetStream R1 (nats-server %s embedded, nats.go %s, file storage; sync settings %s)\n",
		e["nats_server"], e["nats_go"], o["jetstream"])
	fmt.Fprintln(w, "js-always: sync_interval: always (every message fsynced before its ack); js-default: JetStream's default (fsync every 2 min)")
	fmt.Fprintf(w, "%s %s, %s CPUs (GOMAXPROCS %s), data in %s\n", e["go"], e["os_arch"], e["cpus"], e["gomaxprocs"], e["dir"])
	fmt.Fprintf(w, "appends: %s streams, %s-byte events, %s per scenario, clients %s; reads: %s events x %s\n\n",
		o["streams"], o["event_size"], o["duration"], o["clients"], o["read_events"], o["read_reps"])
}

func (r *report) find(sys string, clients int) *appendResult {
	for i := range r.Appends {
		if a := &r.Appends[i]; a.System == sys && a.Clients == clients {
			return a
		}
	}
	return nil
}

func (r *report) printAppends(w io.Writer) {
	if len(r.Appends) == 0 {
		return
	}
	fmt.Fprintln(w, "Appends: one event per request, expected revision checked, one NATS connection per client;")
	fmt.Fprintln(w, "first append to each stream (warm-up) not measured. lb/<js>: Logbook / that JetStream.")
	fmt.Fprintln(w, "cpu: CPU time of this whole process (servers + clients) per append, and its use in % of one core.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tsystem\tappends/s\tp50\tp99\tmax\tcpu/append\tcpu\terrors\tmismatches\t")
	var counts []int
	for _, a := range r.Appends {
		if !slices.Contains(counts, a.Clients) {
			counts = append(counts, a.Clients)
		}
	}
	for _, n := range counts {
		for _, a := range r.Appends {
			if a.Clients == n {
				fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.0f%%\t%d\t%d\t\n", a.Clients, a.System, a.PerSec,
					benchkit.FmtUs(a.P50us), benchkit.FmtUs(a.P99us), benchkit.FmtUs(a.MaxUs), benchkit.FmtUs(a.CPUPerOpUs), a.CPUPct, a.Errors, a.Mismatches)
			}
		}
		lb := r.find("logbook", n)
		for _, js := range r.Appends {
			if lb == nil || js.Clients != n || js.System == "logbook" {
				continue
			}
			fmt.Fprintf(tw, "%d\tlb/%s\t%s\t%s\t%s\t%s\t%s\t\t\t\t\n", n, js.System, benchkit.FmtRatio(benchkit.Ratio(lb.PerSec, js.PerSec)),
				benchkit.FmtRatio(benchkit.Ratio(lb.P50us, js.P50us)), benchkit.FmtRatio(benchkit.Ratio(lb.P99us, js.P99us)), benchkit.FmtRatio(benchkit.Ratio(lb.MaxUs, js.MaxUs)),
				benchkit.FmtRatio(benchkit.Ratio(lb.CPUPerOpUs, js.CPUPerOpUs)))
		}
	}
	tw.Flush()
	for _, a := range r.Appends {
		if a.FirstError != "" {
			fmt.Fprintf(w, "first error, %s with %d clients: %s\n", a.System, a.Clients, a.FirstError)
		}
	}
	fmt.Fprintln(w)
}

func (r *report) printReads(w io.Writer) {
	if len(r.Reads) == 0 {
		return
	}
	fmt.Fprintf(w, "Reads: all %d events of one stream from its start, median of %d (Logbook: paged reads of up to %d;\n",
		r.Reads[0].Events, r.Reads[0].Reps, maxReadPage)
	fmt.Fprintln(w, "JetStream: ordered consumer, created inside the timed section). lb/<js>: Logbook / that JetStream.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tmedian\tmin\tevents/s\t")
	var lb *readResult
	for i, rr := range r.Reads {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t\n", rr.System, benchkit.FmtUs(rr.MedianUs), benchkit.FmtUs(rr.MinUs), rr.PerSec)
		if rr.System == "logbook" {
			lb = &r.Reads[i]
		}
	}
	for _, js := range r.Reads {
		if lb != nil && js.System != "logbook" {
			fmt.Fprintf(tw, "lb/%s\t%s\t%s\t%s\t\n", js.System, benchkit.FmtRatio(benchkit.Ratio(lb.MedianUs, js.MedianUs)),
				benchkit.FmtRatio(benchkit.Ratio(lb.MinUs, js.MinUs)), benchkit.FmtRatio(benchkit.Ratio(lb.PerSec, js.PerSec)))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

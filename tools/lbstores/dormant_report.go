package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printDormancy prints how long the stores took to go dormant and the wake
// latency of dormant stores after the restart (-hibernate-after > 0).
func (r *report) printDormancy(w io.Writer) {
	d, k := r.DormantWait, r.Wake
	if d == nil && k == nil {
		return
	}
	fmt.Fprintf(w, "Dormant stores (-hibernate-after %s)\n", r.Options["hibernate_after"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if d != nil {
		if d.reached() {
			fmt.Fprintf(tw, "  every store dormant\t%.1fs after the last read (%d replicas dormant, default store's included; %v per node; %d running)\n", d.AfterS, d.Dormant, d.PerNode, d.Running)
		} else {
			fmt.Fprintf(tw, "  every store dormant\tNOT within %.0fs: %s\n", d.BoundS, d.Error)
		}
	}
	if k != nil {
		l := k.Latency
		fmt.Fprintf(tw, "  wake: %d random dormant stores after the restart, read one at a time\tp50 %.0f / p90 %.0f / max %.0f ms (min %.0f ms); %d failed\n",
			len(k.Stores), l.P50ms, l.P90ms, l.MaxMs, minOf(k.MS), k.Failed)
		fmt.Fprintf(tw, "  replicas dormant before the first / woken by these reads\t%d / %.0f\n", k.DormantBefore, k.Wakes)
	}
	if g := r.DormantGC; g != nil {
		if g.Error != "" {
			fmt.Fprintf(tw, "  memory after a GC, every store dormant\tNOT MEASURED: %s\n", g.Error)
		} else {
			fmt.Fprintf(tw, "  memory after a GC, every store dormant (per storenode)\tGo heap in use %v MiB, RSS %v MiB, 10 s later %v MiB (GC %vs after every store dormant)\n",
				roundAll(g.HeapInuseMiB), roundAll(g.RSSMiB), roundAll(g.RSSLaterMiB), roundAll(g.WaitedS))
		}
	}
	tw.Flush()
	if k != nil {
		for _, e := range k.FirstErrors {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
	}
	fmt.Fprintln(w, "  A wake is the read of a store whose replicas are stopped: the gateway finds no leader, the storenodes start the replicas, they elect one.")
	fmt.Fprintln(w)
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

// dormantCell is an idle result's dormant replica count, "-" if unknown.
func dormantCell(i *idleResult) string {
	if i.Dormant == nil {
		return "-"
	}
	return fmt.Sprint(*i.Dormant)
}

// heapCell is an idle result's Go heap in use, "-" if unknown.
func heapCell(i *idleResult) string {
	if i.HeapInuseMiB == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", *i.HeapInuseMiB)
}

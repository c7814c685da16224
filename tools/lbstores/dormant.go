package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// Dormant stores (-hibernate-after, docs/operations.md): a storenode stops
// the Raft replica of a store idle that long, and the next request starts
// it again. With -hibernate-after set, the tool waits after the reads until
// every store it created is dormant, measures the idle server(s) then, and
// after the restart measures them again before any read (dormant replicas
// stay dormant across a restart); then it reads a few random stores one at
// a time: each read is the wake latency of a dormant store. What is dormant
// comes from each storenode's /metrics (-http, always passed).

// dormancy is what one storenode's /metrics says about its store replicas.
type dormancy struct {
	Running int     // logbook_storenode_stores: replicas running
	Dormant int     // logbook_storenode_stores_dormant
	Wakes   float64 // logbook_storenode_store_wakes_total
	// HeapInuse is the Go heap in use (go_memstats_heap_inuse_bytes): live
	// objects and garbage not yet collected, without the freed memory the
	// runtime has not yet returned to the OS (which RSS still counts).
	HeapInuse float64
	LastGC    time.Time // go_memstats_last_gc_time_seconds
	// OthersRunning counts the running replicas of stores lbstores did not
	// create (the default store), from their per-store series: a node
	// gives the first stores it runs (100 by default) series of their own,
	// so the default store, started first, always has them.
	OthersRunning int
}

// oursRunning is how many replicas of lbstores' stores run on the node.
func (d dormancy) oursRunning() int { return max(0, d.Running-d.OthersRunning) }

var (
	ourStore     = regexp.MustCompile(`^s\d{5}$`) // storeID's form
	appliedStore = regexp.MustCompile(`^logbook_store_applied_index\{(?:.*,)?store="([^"]*)"`)
)

// parseDormancy reads the Prometheus text exposition of a storenode.
func parseDormancy(r io.Reader) (dormancy, error) {
	var d dormancy
	seen := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := appliedStore.FindStringSubmatch(line); m != nil {
			if !ourStore.MatchString(m[1]) {
				d.OthersRunning++
			}
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var dst *int
		switch name {
		case "logbook_storenode_stores":
			dst = &d.Running
		case "logbook_storenode_stores_dormant":
			dst = &d.Dormant
		case "logbook_storenode_store_wakes_total", "go_memstats_heap_inuse_bytes", "go_memstats_last_gc_time_seconds":
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return d, fmt.Errorf("%s: %w", name, err)
			}
			switch name {
			case "go_memstats_heap_inuse_bytes":
				d.HeapInuse = v
				continue
			case "go_memstats_last_gc_time_seconds":
				d.LastGC = time.Unix(0, int64(v*1e9))
				continue
			}
			d.Wakes = v
			seen++
			continue
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return d, fmt.Errorf("%s: %w", name, err)
		}
		*dst = int(v)
		seen++
	}
	if err := sc.Err(); err != nil {
		return d, err
	}
	if seen < 3 {
		return d, fmt.Errorf("metrics lack logbook_storenode_stores, _stores_dormant or _store_wakes_total")
	}
	return d, nil
}

// scrapeDormancy gets http://addr/metrics and parses it.
func scrapeDormancy(ctx context.Context, addr string) (dormancy, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return dormancy{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return dormancy{}, fmt.Errorf("metrics of %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return dormancy{}, fmt.Errorf("metrics of %s: %s", addr, resp.Status)
	}
	d, err := parseDormancy(resp.Body)
	if err != nil {
		return d, fmt.Errorf("metrics of %s: %w", addr, err)
	}
	return d, nil
}

// scrapeAll scrapes every node; the sum, and each node's.
func scrapeAll(ctx context.Context, addrs []string) (dormancy, []dormancy, error) {
	var total dormancy
	each := make([]dormancy, len(addrs))
	for i, a := range addrs {
		d, err := scrapeDormancy(ctx, a)
		if err != nil {
			return total, nil, err
		}
		each[i] = d
		total.Running += d.Running
		total.Dormant += d.Dormant
		total.Wakes += d.Wakes
		total.OthersRunning += d.OthersRunning
	}
	return total, each, nil
}

// dormantWait is how long the stores took to go dormant.
type dormantWait struct {
	Want        int       `json:"want"`         // replicas of lbstores' stores, every node
	Dormant     int       `json:"dormant"`      // dormant replicas at the end, every node, the default store's included
	Running     int       `json:"running"`      // running replicas at the end, every node
	OursRunning int       `json:"ours_running"` // of lbstores' stores
	PerNode     []int     `json:"dormant_per_node,omitempty"`
	AfterS      float64   `json:"after_last_activity_s"` // from the last read to every store dormant (-1: not within the bound)
	BoundS      float64   `json:"bound_s"`
	Error       string    `json:"error,omitempty"`
	at          time.Time // when every store was seen dormant
}

func (d *dormantWait) reached() bool { return d != nil && d.Error == "" && d.AfterS >= 0 }

// waitDormant polls the nodes' metrics every 500 ms until none runs a
// replica of lbstores' stores and at least want are dormant, or bound
// passes. since is the last request to any store.
func waitDormant(ctx context.Context, addrs []string, want int, since time.Time, bound time.Duration) *dormantWait {
	res := &dormantWait{Want: want, AfterS: -1, BoundS: bound.Seconds()}
	progress("waiting until the %d replicas of our stores are dormant (at most %s)", want, bound)
	deadline := since.Add(bound)
	for {
		total, each, err := scrapeAll(ctx, addrs)
		if err == nil {
			res.Dormant, res.Running, res.OursRunning = total.Dormant, total.Running, total.oursRunning()
			res.PerNode = res.PerNode[:0]
			for _, d := range each {
				res.PerNode = append(res.PerNode, d.Dormant)
			}
			if res.OursRunning == 0 && total.Dormant >= want {
				res.at = time.Now()
				res.AfterS = res.at.Sub(since).Seconds()
				progress("dormant: %d replicas (%v per node) %.1fs after the last read; %d still running", total.Dormant, res.PerNode, res.AfterS, total.Running)
				return res
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			switch {
			case ctx.Err() != nil:
				res.Error = context.Cause(ctx).Error()
			case err != nil:
				res.Error = err.Error()
			default:
				res.Error = fmt.Sprintf("not every store dormant %s after the last read: %d of %d dormant, %d of ours running", bound, res.Dormant, want, res.OursRunning)
			}
			progress("dormant: %s", res.Error)
			return res
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			continue // reported at the top of the loop
		}
	}
}

// noteDormant adds the nodes' dormant replica counts and Go heap to idle results, in
// order (the results of other processes, beyond addrs, are left alone).
func noteDormant(ctx context.Context, addrs []string, rs ...*idleResult) {
	for i, a := range addrs {
		if i >= len(rs) || rs[i] == nil {
			continue
		}
		if d, err := scrapeDormancy(ctx, a); err == nil {
			n, heap := d.Dormant, d.HeapInuse/(1<<20)
			rs[i].Dormant, rs[i].HeapInuseMiB = &n, &heap
		}
	}
}

// wakeResult is the wake latency of dormant stores: reads of random
// stores, one at a time, right after a restart that left them dormant.
type wakeResult struct {
	Stores        []string       `json:"stores"`
	MS            []float64      `json:"ms"`      // each read, in order (failed ones too)
	Errors        []string       `json:"-"`       // each read's error, "" if none
	Latency       latencySummary `json:"latency"` // of the reads that succeeded
	Failed        int            `json:"failed"`
	FirstErrors   []string       `json:"first_errors,omitempty"`
	DormantBefore int            `json:"dormant_before"` // dormant replicas, every node, before the first read
	Wakes         float64        `json:"wakes"`          // replicas the nodes started meanwhile (store_wakes_total)
}

// wakeReads reads n distinct random stores' check events one at a time.
func wakeReads(ctx context.Context, c *client.Client, runID int64, ids []string, n int, timeout time.Duration, addrs []string) *wakeResult {
	res := &wakeResult{}
	before, _, berr := scrapeAll(ctx, addrs)
	res.DormantBefore = before.Dormant
	var lats []time.Duration
	for _, i := range rand.Perm(len(ids))[:min(n, len(ids))] {
		id := ids[i]
		res.Stores = append(res.Stores, id)
		rctx, cancel := context.WithTimeout(ctx, timeout)
		t := time.Now()
		err := readCheck(c, runID)(rctx, id)
		d := time.Since(t)
		cancel()
		res.MS = append(res.MS, ms(d))
		res.Errors = append(res.Errors, benchkit.ErrString(err))
		if err != nil {
			res.Failed++
			if len(res.FirstErrors) < 5 {
				res.FirstErrors = append(res.FirstErrors, fmt.Sprintf("%s: %s", id, benchkit.ErrString(err)))
			}
			continue
		}
		lats = append(lats, d)
	}
	res.Latency = summarize(lats)
	if after, _, err := scrapeAll(ctx, addrs); err == nil && berr == nil {
		res.Wakes = after.Wakes - before.Wakes
	}
	progress("wake: %d dormant stores read one at a time: p50 %.0f ms, max %.0f ms, %d failed; %.0f replicas woken",
		len(res.Stores), res.Latency.P50ms, res.Latency.MaxMs, res.Failed, res.Wakes)
	return res
}

// first is the first read, as the one random read of a run without
// dormancy reports it.
func (w *wakeResult) first() randomRead {
	if len(w.Stores) == 0 {
		return randomRead{}
	}
	return randomRead{Store: w.Stores[0], MS: w.MS[0], Error: w.Errors[0]}
}

// wakeSamples is how many dormant stores wakeReads reads after a restart.
const wakeSamples = 20

// gcMemory is the storenodes' memory once each has run a garbage
// collection after every store went dormant: an idle Go process collects
// only when it allocates or every 2 minutes (the runtime's forced GC), so
// until then the heap in use still counts the stopped replicas' garbage.
type gcMemory struct {
	WaitedS      []float64 `json:"waited_s"`          // per node: from every store dormant to its first GC since
	HeapInuseMiB []float64 `json:"go_heap_inuse_mib"` // per node, at that moment
	RSSMiB       []float64 `json:"rss_mib"`           // per node, at that moment
	RSSLaterMiB  []float64 `json:"rss_10s_later_mib"` // per node, 10 s after the last node's GC (the runtime returns freed memory gradually)
	Error        string    `json:"error,omitempty"`
}

// memoryAfterGC polls the nodes every 2 s until each has collected after
// since, at most bound after since.
func memoryAfterGC(ctx context.Context, addrs []string, pids []int, since time.Time, bound time.Duration) *gcMemory {
	n := len(addrs)
	res := &gcMemory{WaitedS: make([]float64, n), HeapInuseMiB: make([]float64, n), RSSMiB: make([]float64, n)}
	progress("waiting for a GC in every storenode since every store went dormant (at most %s after)", bound)
	done := make([]bool, n)
	left := n
	for left > 0 {
		for i, a := range addrs {
			if done[i] {
				continue
			}
			d, err := scrapeDormancy(ctx, a)
			if err != nil || d.LastGC.Before(since) {
				continue
			}
			s, err := sampleProc(pids[i], false)
			if err != nil {
				res.Error = err.Error()
				return res
			}
			done[i], left = true, left-1
			res.WaitedS[i] = time.Since(since).Seconds()
			res.HeapInuseMiB[i], res.RSSMiB[i] = d.HeapInuse/(1<<20), mib(s.RSSKiB)
		}
		if left == 0 {
			break
		}
		if time.Since(since) > bound || ctx.Err() != nil {
			res.Error = fmt.Sprintf("%d of %d storenodes collected within %s", n-left, n, bound)
			progress("gc: %s", res.Error)
			return res
		}
		_ = sleep(ctx, 2*time.Second)
	}
	if err := sleep(ctx, 10*time.Second); err != nil {
		res.Error = err.Error()
		return res
	}
	for _, pid := range pids {
		if s, err := sampleProc(pid, false); err == nil {
			res.RSSLaterMiB = append(res.RSSLaterMiB, mib(s.RSSKiB))
		}
	}
	progress("gc: heap in use %v MiB, rss %v MiB, 10 s later %v MiB", roundAll(res.HeapInuseMiB), roundAll(res.RSSMiB), roundAll(res.RSSLaterMiB))
	return res
}

func roundAll(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}

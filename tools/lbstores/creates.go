package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// storeID is the id of the i-th store (1-based) the tool creates.
func storeID(i int) string { return fmt.Sprintf("s%05d", i) }

// checkpoint is the server's state after a share of the creates.
type checkpoint struct {
	Stores     int     `json:"stores"` // creates finished (ok or not)
	ElapsedS   float64 `json:"elapsed_s"`
	RSSMiB     float64 `json:"rss_mib"`
	AnonMiB    float64 `json:"rss_anon_mib"`
	FDs        int     `json:"fds"`
	Threads    int     `json:"threads"`
	CPUPct     float64 `json:"cpu_pct"`       // server CPU since the previous checkpoint, % of one core
	PerSec     float64 `json:"creates_per_s"` // since the previous checkpoint
	SegmentP50 float64 `json:"segment_p50_ms"`
	SegmentP99 float64 `json:"segment_p99_ms"`
}

// createResult is the outcome of the create phase.
type createResult struct {
	Requested   int            `json:"requested"`
	Created     int            `json:"created"`
	Existed     int            `json:"existed"` // already there (a reused -dir)
	Failed      int            `json:"failed"`
	Aborted     string         `json:"aborted,omitempty"` // why the phase stopped early
	SlowReplies int            `json:"slow_replies"`      // replies still "creating": finished by polling Status
	TotalS      float64        `json:"total_s"`
	PerSec      float64        `json:"creates_per_s"`
	Latency     latencySummary `json:"latency"`
	CPUPct      float64        `json:"cpu_pct"` // server CPU over the phase, % of one core
	PeakRSSMiB  float64        `json:"peak_rss_mib"`
	Checkpoints []checkpoint   `json:"checkpoints"`
	FirstErrors []string       `json:"first_errors,omitempty"`
}

type createConfig struct {
	stores      int
	concurrency int
	opTimeout   time.Duration
	maxFailures int
	settings    *client.StoreSettings // nil: the server's defaults
}

// measured is what createStores samples: the server process (one node), or
// the storenodes summed (a cluster).
type measured struct {
	sample  func() (procSample, error)
	peakKiB func() int64
}

// serverMeasured samples srv; w knows its peak RSS.
func serverMeasured(srv *server, w *watcher) measured {
	return measured{sample: func() (procSample, error) { return sampleProc(srv.PID, false) }, peakKiB: w.peak}
}

// createStores creates stores s00001…sNNNNN with cfg.concurrency creators,
// timing each create until the store is running.
// probe, if not nil, is told of every store whose create returned.
func createStores(ctx context.Context, c *client.Client, m measured, probe *servingProbe, cfg createConfig) *createResult {
	res := &createResult{Requested: cfg.stores}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		lats     []time.Duration // all successful creates
		segment  []time.Duration // since the last checkpoint
		finished int
		next     = 1 // next checkpoint index (1..10)
	)
	start, _ := m.sample()
	prev := start
	t0 := time.Now()
	every := max(1, cfg.stores/10)

	record := func(d time.Duration, reply *wire.CreateStoreReply, slow bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		finished++
		switch {
		case err != nil:
			res.Failed++
			if len(res.FirstErrors) < 5 {
				res.FirstErrors = append(res.FirstErrors, err.Error())
			}
			if res.Failed >= cfg.maxFailures && res.Aborted == "" {
				res.Aborted = fmt.Sprintf("%d creates failed (-max-failures): stopped after %d of %d", res.Failed, finished, cfg.stores)
				cancel()
			}
		default:
			lats = append(lats, d)
			segment = append(segment, d)
			if reply.Existed {
				res.Existed++
			} else {
				res.Created++
			}
			if slow {
				res.SlowReplies++
			}
		}
		if finished >= next*every || finished == cfg.stores {
			s, err := m.sample()
			if err != nil {
				return
			}
			seg := summarize(segment)
			res.Checkpoints = append(res.Checkpoints, checkpoint{
				Stores: finished, ElapsedS: time.Since(t0).Seconds(),
				RSSMiB: mib(s.RSSKiB), AnonMiB: mib(s.AnonKiB), FDs: s.FDs, Threads: s.Threads,
				CPUPct: cpuPct(prev, s), PerSec: float64(len(segment)) / s.At.Sub(prev.At).Seconds(),
				SegmentP50: seg.P50ms, SegmentP99: seg.P99ms,
			})
			fmt.Fprintf(os.Stderr, "  %6d/%d stores  %6.1fs  rss %6.0f MiB  fds %5d  threads %4d  cpu %4.0f%%  %6.1f creates/s  p50 %7.1fms  p99 %7.1fms\n",
				finished, cfg.stores, time.Since(t0).Seconds(), mib(s.RSSKiB), s.FDs, s.Threads, cpuPct(prev, s),
				float64(len(segment))/s.At.Sub(prev.At).Seconds(), seg.P50ms, seg.P99ms)
			prev, segment = s, nil
			for finished >= next*every {
				next++
			}
		}
	}

	ids := make(chan string)
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				t := time.Now()
				reply, slow, err := createOne(ctx, c, id, cfg.settings, cfg.opTimeout)
				ret := time.Now()
				record(ret.Sub(t), reply, slow, err)
				if err == nil && probe != nil {
					probe.add(id, t, ret)
				}
			}
		}()
	}
feed:
	for i := 1; i <= cfg.stores; i++ {
		select {
		case ids <- storeID(i):
		case <-ctx.Done():
			break feed
		}
	}
	close(ids)
	wg.Wait()

	end, _ := m.sample()
	res.TotalS = time.Since(t0).Seconds()
	res.PerSec = float64(len(lats)) / res.TotalS
	res.Latency = summarize(lats)
	res.CPUPct = cpuPct(start, end)
	res.PeakRSSMiB = mib(m.peakKiB())
	if res.Aborted == "" && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			res.Aborted = cause.Error()
		}
	}
	return res
}

// createOne creates a store and, if the reply still says "creating" (the
// server answers at its own deadline), polls its status until it runs.
func createOne(ctx context.Context, c *client.Client, id string, settings *client.StoreSettings, timeout time.Duration) (*wire.CreateStoreReply, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := c.Stores().Create(ctx, id, settings)
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", id, err)
	}
	if reply.Status.Status != wire.StatusCreating {
		return reply, false, nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil, true, fmt.Errorf("create %s: still %q after %s", id, wire.StatusCreating, timeout)
		case <-time.After(50 * time.Millisecond):
		}
		st, err := c.Stores().Status(ctx, id)
		if err != nil {
			return nil, true, fmt.Errorf("status of %s: %w", id, err)
		}
		if st.Status != wire.StatusCreating {
			reply.Status = *st
			return reply, true, nil
		}
	}
}

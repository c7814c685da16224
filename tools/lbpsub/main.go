// Command lbpsub measures Logbook's persistent subscriptions against a
// JetStream durable pull consumer with explicit acks, over the same events,
// in one bounded run on 127.0.0.1 (a single-node Logbook and embedded
// nats-servers with JetStream on file storage, all in this process).
//
// For each strategy (round_robin, pinned) and consumer count (-consumers):
//
//   - backlog: -events events are written to 64 fresh streams (Logbook,
//     batched appends; JetStream, 64 subjects) after the subscription (the
//     durable consumer) was created at the end of the store (the stream),
//     then N consumers, each on its own NATS connection, join and settle
//     every event: events/s delivered and acked, from the first join to the
//     last acknowledgement the server confirmed (Logbook: every Ack request
//     answered; JetStream: the consumer's ack floor reaching the last
//     message, read from the consumer's info);
//   - live: with the consumers caught up, one writer appends -live-events
//     events one at a time, each carrying its send time; delivery latency is
//     from the append call to the handler receiving the event (the write
//     path of each system included).
//
// Each consumer acknowledges every event as soon as it is handed over,
// without waiting for one acknowledgement before taking the next message
// (Logbook: the Ack request made on a goroutine of its own, at most
// -in-flight outstanding; JetStream: Msg.Ack, which does not wait). Both
// hold at most -in-flight unacknowledged events per consumer.
//
// JetStream has no per-stream pinning: its durable pull consumer hands
// messages to whichever client pulls, so both Logbook strategies are
// compared with the same JetStream scenario of the same consumer count.
//
//	go run ./tools/lbpsub -events 20000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

type options struct {
	events     int
	liveEvents int
	consumers  []int
	inFlight   int
	eventSize  int
	jsSync     []string
	only       string
	timeout    time.Duration
	dir        string
	verbose    bool
	profileDir string
}

func parseFlags() (*options, error) {
	o := &options{}
	cons := flag.String("consumers", "1,4", "comma-separated consumer counts; one scenario each per strategy")
	flag.IntVar(&o.events, "events", 20000, "events in each scenario's backlog")
	flag.IntVar(&o.liveEvents, "live-events", 500, "events appended one at a time in each scenario's live phase (delivery latency)")
	flag.IntVar(&o.inFlight, "in-flight", 256, "unacknowledged events per consumer (Logbook max_in_flight; JetStream MaxAckPending is this × consumers)")
	flag.IntVar(&o.eventSize, "event-size", 256, "bytes of data per event (≥ 8: the live events carry their send time)")
	jsSync := flag.String("jetstream", benchkit.SyncAlways+","+benchkit.SyncDefault, "JetStream sync settings to compare against: always, default, or both")
	flag.StringVar(&o.only, "only", "both", "systems to run: logbook, jetstream or both")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	flag.StringVar(&o.dir, "dir", "", "data directory (default: a temporary directory, removed at the end)")
	flag.BoolVar(&o.verbose, "v", false, "log Logbook's messages to stderr")
	flag.StringVar(&o.profileDir, "pprof-dir", "", "write a CPU profile of this process (consumers, gateway, storenode, NATS server) during each Logbook scenario to this directory, one file per scenario (go tool pprof takes several)")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	var err error
	if o.consumers, err = benchkit.IntList("-consumers", *cons); err != nil {
		return nil, err
	}
	if o.jsSync, err = benchkit.SyncSettings(*jsSync); err != nil {
		return nil, err
	}
	if err := benchkit.CheckAppendRun(o.only, time.Second); err != nil {
		return nil, err
	}
	switch {
	case o.events < 1 || o.liveEvents < 1:
		return nil, errors.New("-events and -live-events must be ≥ 1")
	case o.inFlight < 1 || o.inFlight > 10000:
		return nil, errors.New("-in-flight must be in 1..10000")
	case o.eventSize < 8:
		return nil, errors.New("-event-size must be ≥ 8")
	case o.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	}
	return o, nil
}

func main() { benchkit.Main("lbpsub", parseFlags, run) }

func (o *options) Bounds() (time.Duration, string) { return o.timeout, o.dir }

// streams is the number of streams (JetStream: subjects) each scenario's
// events are spread over: enough for the pinned strategy to spread them.
const streams = 64

// scenario is one measurement.
type scenario struct {
	tag       string // unique per scenario and system: names its streams and subscription
	strategy  string // Logbook's; "" for JetStream
	consumers int
	events    int
	live      int
	inFlight  int
	size      int
}

// result is one scenario's outcome on one system.
type result struct {
	System     string  `json:"system"`
	Strategy   string  `json:"strategy,omitempty"`
	Consumers  int     `json:"consumers"`
	Events     int     `json:"events"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"events_per_s"` // delivered and acked
	Redeliv    int     `json:"redelivered"`  // deliveries beyond the first of an event
	LiveP50us  float64 `json:"live_p50_us"`
	LiveP99us  float64 `json:"live_p99_us"`
	LiveMaxUs  float64 `json:"live_max_us"`
	LiveEvents int     `json:"live_events"`
}

// psubSystem is one of the systems compared.
type psubSystem interface {
	name() string
	// run runs one scenario: backlog, then live.
	run(ctx context.Context, sc scenario) (result, error)
	close()
}

func run(ctx context.Context, o *options, dir string) error {
	fmt.Printf("lbpsub: Logbook persistent subscriptions vs JetStream durable pull consumer (explicit acks)\n")
	env := benchkit.Environment(dir)
	fmt.Printf("nats-server %s, nats.go %s; %s %s/%s, %d CPUs; data in %s; load average %s\n", env["nats_server"], env["nats_go"],
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), dir, loadAvg())
	fmt.Printf("backlog %d events, live %d events, %d-byte events over %d streams; in flight per consumer %d\n\n",
		o.events, o.liveEvents, o.eventSize, streams, o.inFlight)

	var systems []psubSystem
	defer func() {
		for _, s := range slices.Backward(systems) {
			s.close()
		}
	}()
	if o.only != "logbook" {
		for _, setting := range o.jsSync {
			js, err := startJetStream(ctx, dir, setting)
			if err != nil {
				return err
			}
			systems = append(systems, js)
		}
	}
	if o.only != "jetstream" {
		lb, err := startLogbook(ctx, dir, benchkit.Logger(o.verbose))
		if err != nil {
			return err
		}
		systems = append(systems, lb)
	}

	var results []result
	n := 0
	for _, c := range o.consumers {
		for _, sys := range systems {
			strategies := []string{""}
			if sys.name() == "logbook" {
				strategies = []string{"round_robin", "pinned"}
			}
			for _, strat := range strategies {
				n++
				sc := scenario{tag: fmt.Sprintf("t%d", n), strategy: strat, consumers: c, events: o.events,
					live: o.liveEvents, inFlight: o.inFlight, size: o.eventSize}
				fmt.Fprintf(os.Stderr, "%s %s, %d consumer(s)...\n", sys.name(), strat, c)
				profDir := o.profileDir
				if sys.name() != "logbook" {
					profDir = "" // Logbook's scenarios only
				}
				stop, err := benchkit.ProfileCPU(profDir, fmt.Sprintf("logbook-%s-c%d", strat, c))
				if err != nil {
					return err
				}
				res, err := sys.run(ctx, sc)
				stop()
				if err != nil {
					return fmt.Errorf("%s %s, %d consumers: %w", sys.name(), strat, c, err)
				}
				results = append(results, res)
			}
		}
	}
	printResults(results)
	fmt.Printf("load average at the end: %s\n", loadAvg())
	return nil
}

func printResults(rs []result) {
	fmt.Println("events/s: delivered and acked (confirmed by the server), backlog phase; live: append call to delivery.")
	fmt.Println("lb/<js>: Logbook / that JetStream, same consumer count (events/s: above 1 is better; latency: below 1).")
	fmt.Printf("%9s %-10s %-12s %10s %10s %10s %10s %10s %11s\n", "consumers", "system", "strategy", "events/s", "redeliv", "live p50", "live p99", "live max", "")
	for _, r := range rs {
		fmt.Printf("%9d %-10s %-12s %10.0f %10d %10s %10s %10s\n", r.Consumers, r.System, r.Strategy, r.PerSec, r.Redeliv,
			benchkit.FmtUs(r.LiveP50us), benchkit.FmtUs(r.LiveP99us), benchkit.FmtUs(r.LiveMaxUs))
	}
	fmt.Println()
	fmt.Printf("%9s %-24s %-12s %10s %10s %10s\n", "consumers", "ratio", "strategy", "events/s", "live p50", "live p99")
	for _, lb := range rs {
		if lb.System != "logbook" {
			continue
		}
		for _, js := range rs {
			if js.System == "logbook" || js.Consumers != lb.Consumers {
				continue
			}
			fmt.Printf("%9d %-24s %-12s %10s %10s %10s\n", lb.Consumers, "lb/"+js.System, lb.Strategy,
				benchkit.FmtRatio(benchkit.Ratio(lb.PerSec, js.PerSec)), benchkit.FmtRatio(benchkit.Ratio(lb.LiveP50us, js.LiveP50us)),
				benchkit.FmtRatio(benchkit.Ratio(lb.LiveP99us, js.LiveP99us)))
		}
	}
	fmt.Println()
}

// loadAvg is the machine's 1-, 5- and 15-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var a, b5, c string
	fmt.Sscan(string(b), &a, &b5, &c)
	return a + " " + b5 + " " + c
}

// latencies turns the live phase's latencies into the result's fields.
func (r *result) setLive(l benchkit.Latencies) {
	l.Sort()
	r.LiveEvents = len(l)
	r.LiveP50us = benchkit.Us(l.Percentile(0.5))
	r.LiveP99us = benchkit.Us(l.Percentile(0.99))
	r.LiveMaxUs = benchkit.Us(l.Percentile(1))
}

// stamp writes now into the first 8 bytes of a copy of data.
func stamp(data []byte) []byte {
	b := slices.Clone(data)
	t := uint64(time.Now().UnixNano())
	for i := range 8 {
		b[i] = byte(t >> (8 * i))
	}
	return b
}

// sinceStamp is the time since the stamp in b.
func sinceStamp(b []byte) time.Duration {
	var t uint64
	for i := range 8 {
		t |= uint64(b[i]) << (8 * i)
	}
	return time.Since(time.Unix(0, int64(t)))
}

// Command lbfanout measures Logbook's live events and catch-up
// subscriptions, in one bounded run on 127.0.0.1:
//
//   - catch-up replay: a catch-up subscription (client.Store.Subscribe) on
//     $all replays -events events from position 0, against a JetStream
//     ordered consumer replaying the same events (same count, same payload
//     size) from an embedded nats-server with JetStream (file storage,
//     every write fsynced) started in the same process;
//   - live fan-out: for each count in -subscribers, that many catch-up
//     subscriptions (each on its own NATS connection, started at the end of
//     the store, so live only) receive -live-events events appended by
//     -writers clients; it reports events/s delivered to each subscriber
//     and in total, and checks that each got every event once, in order.
//
// Every wait is bounded by -timeout. Run it with:
//
//	go run ./tools/lbfanout -events 20000 -live-events 20000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats.go/jetstream"
)

type options struct {
	events      int
	liveEvents  int
	subscribers []int
	writers     int
	batch       int
	eventSize   int
	reps        int
	page        int
	timeout     time.Duration
	dir         string
	verbose     bool
	profileDir  string
}

func parseFlags() (*options, error) {
	o := &options{}
	subs := flag.String("subscribers", "1,16", "comma-separated live subscriber counts; one fan-out scenario each")
	flag.IntVar(&o.events, "events", 20000, "events in the history replayed by the catch-up benchmark")
	flag.IntVar(&o.liveEvents, "live-events", 20000, "events appended in each fan-out scenario")
	flag.IntVar(&o.writers, "writers", 4, "concurrent appenders")
	flag.IntVar(&o.batch, "batch", 50, "events per append")
	flag.IntVar(&o.eventSize, "event-size", 256, "bytes of data per event")
	flag.IntVar(&o.reps, "reps", 3, "replays per system; the median is reported")
	flag.IntVar(&o.page, "page", 4096, "page size of the catch-up subscription's history reads")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	flag.StringVar(&o.dir, "dir", "", "data directory (default: a temporary directory, removed at the end)")
	flag.BoolVar(&o.verbose, "v", false, "log Logbook's messages to stderr")
	flag.StringVar(&o.profileDir, "pprof-dir", "", "write a CPU profile of this process (subscriber, gateway, storenode, NATS server) during each of Logbook's catch-up replays to this directory (go tool pprof takes several files)")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	var err error
	if o.subscribers, err = benchkit.IntList("-subscribers", *subs); err != nil {
		return nil, err
	}
	switch {
	case o.events < 1 || o.liveEvents < 1 || o.writers < 1 || o.reps < 1 || o.eventSize < 1:
		return nil, errors.New("-events, -live-events, -writers, -reps and -event-size must be ≥ 1")
	case o.batch < 1 || o.batch > 1000:
		return nil, errors.New("-batch must be in 1..1000")
	case o.page < 1 || o.page > 4096:
		return nil, errors.New("-page must be in 1..4096")
	case o.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	}
	return o, nil
}

func main() { benchkit.Main("lbfanout", parseFlags, run) }

func (o *options) Bounds() (time.Duration, string) { return o.timeout, o.dir }

func run(ctx context.Context, o *options, dir string) error {
	fmt.Printf("lbfanout: Logbook live events and catch-up vs JetStream ordered consumer\n")
	fmt.Printf("%s %s/%s, %d CPUs (GOMAXPROCS %d), data in %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), dir)
	fmt.Printf("history %d events, live %d events per scenario, %d-byte events, %d writers x %d events per append\n\n",
		o.events, o.liveEvents, o.eventSize, o.writers, o.batch)

	lb, err := benchkit.StartLogbook(ctx, dir, benchkit.Logger(o.verbose))
	if err != nil {
		return err
	}
	defer lb.Close()
	js, err := benchkit.StartJetStream(ctx, "lbfanout-jetstream", dir, benchkit.SyncAlways, jsStream, "fanout.>")
	if err != nil {
		return err
	}
	defer js.Close()

	data := make([]byte, o.eventSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}

	// History, in both systems.
	fmt.Fprintln(os.Stderr, "writing the history...")
	if _, err := appendEvents(ctx, lb, o.events, o.writers, o.batch, data); err != nil {
		return fmt.Errorf("logbook history: %w", err)
	}
	if err := writeJetStream(ctx, js, o.events, data); err != nil {
		return fmt.Errorf("jetstream history: %w", err)
	}

	// Catch-up replay.
	var lbTimes, jsTimes []time.Duration
	for r := range o.reps {
		fmt.Fprintf(os.Stderr, "replay %d/%d...\n", r+1, o.reps)
		stop, err := benchkit.ProfileCPU(o.profileDir, fmt.Sprintf("logbook-replay-%d", r+1))
		if err != nil {
			return err
		}
		d, err := replayLogbook(ctx, lb, o.events, o.page)
		stop()
		if err != nil {
			return fmt.Errorf("logbook replay: %w", err)
		}
		lbTimes = append(lbTimes, d)
		d, err = replayJetStream(ctx, js, o.events)
		if err != nil {
			return fmt.Errorf("jetstream replay: %w", err)
		}
		jsTimes = append(jsTimes, d)
	}
	lbRate := float64(o.events) / benchkit.Median(lbTimes).Seconds()
	jsRate := float64(o.events) / benchkit.Median(jsTimes).Seconds()
	fmt.Printf("Catch-up replay of %d events from the start (median of %d):\n", o.events, o.reps)
	fmt.Printf("  %-44s %10s %12s\n", "system", "time", "events/s")
	fmt.Printf("  %-44s %10s %12.0f\n", fmt.Sprintf("logbook  Subscribe($all), pages of %d", o.page), benchkit.Median(lbTimes).Round(time.Millisecond), lbRate)
	fmt.Printf("  %-44s %10s %12.0f\n", "jetstream  ordered consumer, DeliverAll", benchkit.Median(jsTimes).Round(time.Millisecond), jsRate)
	fmt.Printf("  %-44s %10s %11.2fx\n\n", "ratio logbook/jetstream", "", lbRate/jsRate)

	// Live fan-out.
	fmt.Printf("Live fan-out: %d events appended while N catch-up subscriptions (own connection each) follow $all live:\n", o.liveEvents)
	fmt.Printf("  %5s %12s %14s %14s %10s %10s\n", "subs", "appended/s", "per sub ev/s", "total ev/s", "lag p50", "lag max")
	for _, n := range o.subscribers {
		fmt.Fprintf(os.Stderr, "fan-out to %d subscribers...\n", n)
		res, err := fanOut(ctx, lb, n, o, data)
		if err != nil {
			return fmt.Errorf("fan-out to %d: %w", n, err)
		}
		fmt.Printf("  %5d %12.0f %14.0f %14.0f %10s %10s\n", n, res.appendRate, res.perSub, res.perSub*float64(n),
			res.lagP50.Round(100*time.Microsecond), res.lagMax.Round(100*time.Microsecond))
	}
	fmt.Println("\nappended/s: events committed per second by the writers; per sub ev/s: events delivered per second to each")
	fmt.Println("subscriber, from the first append to its last event; lag: commit timestamp to delivery, per event.")
	return nil
}

// appendEvents appends n events with writers clients, batch events per
// append, round robin over 100 streams per writer; it returns the time taken.
func appendEvents(ctx context.Context, lb *embed.Logbook, n, writers, batch int, data []byte) (time.Duration, error) {
	var next atomic.Int64
	errs := make(chan error, writers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		c, err := client.Connect(lb.ClientURL())
		if err != nil {
			return 0, err
		}
		defer c.Close()
		st := c.Store(lb.StoreID())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := int64(batch)
				end := next.Add(k)
				if end-k >= int64(n) {
					return
				}
				k = min(k, int64(n)-(end-k))
				evs := make([]client.Event, k)
				for j := range evs {
					evs[j] = client.Event{Type: "bench", Data: data}
				}
				if _, err := st.Append(ctx, fmt.Sprintf("fan%d-%d", w, i%100), client.Any, evs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// replayLogbook measures a catch-up subscription on $all from position 0
// until it has delivered the first n events.
func replayLogbook(ctx context.Context, lb *embed.Logbook, n, page int) (time.Duration, error) {
	c, err := client.Connect(lb.ClientURL())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	done := make(chan struct{})
	var got int
	var bad error
	start := time.Now()
	sub, err := c.Store(lb.StoreID()).Subscribe(ctx, 0, client.SubscribeFilter{}, func(e *client.RecordedEvent) {
		if got < n && e.Position != uint64(got) && bad == nil {
			bad = fmt.Errorf("event at %d delivered as number %d", e.Position, got)
		}
		got++
		if got == n {
			close(done)
		}
	}, client.PageSize(page))
	if err != nil {
		return 0, err
	}
	defer sub.Stop()
	select {
	case <-done:
	case <-sub.Done():
		return 0, fmt.Errorf("subscription ended: %v", sub.Err())
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), bad
}

type fanResult struct {
	appendRate     float64
	perSub         float64
	lagP50, lagMax time.Duration
}

type liveSub struct {
	sub   *client.Subscription
	c     *client.Client
	mu    sync.Mutex
	got   int
	next  uint64
	last  time.Time
	lags  []time.Duration
	bad   error
	done  chan struct{}
	total int
}

// fanOut starts n live subscriptions on $all (each on its own connection),
// appends o.liveEvents events and waits until every subscription has them.
func fanOut(ctx context.Context, lb *embed.Logbook, n int, o *options, data []byte) (*fanResult, error) {
	subs := make([]*liveSub, n)
	for i := range subs {
		c, err := client.Connect(lb.ClientURL())
		if err != nil {
			return nil, err
		}
		s := &liveSub{c: c, done: make(chan struct{}), total: o.liveEvents}
		subs[i] = s
		defer c.Close()
		caught := make(chan struct{}, 1)
		s.next = client.FromEnd
		s.sub, err = c.Store(lb.StoreID()).Subscribe(ctx, client.FromEnd, client.SubscribeFilter{}, func(e *client.RecordedEvent) {
			now := time.Now()
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.next != client.FromEnd && e.Position != s.next && s.bad == nil {
				s.bad = fmt.Errorf("event at %d after %d", e.Position, s.next-1)
			}
			s.next = e.Position + 1
			s.got++
			s.lags = append(s.lags, now.Sub(time.Unix(0, e.Timestamp)))
			if s.got == s.total {
				s.last = now
				close(s.done)
			}
		}, client.StatusHandler(func(st client.Status) {
			if st.Kind == client.StatusCaughtUp {
				select {
				case caught <- struct{}{}:
				default:
				}
			}
		}), client.IdleCheck(time.Minute))
		if err != nil {
			return nil, err
		}
		defer s.sub.Stop()
		select {
		case <-caught:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	start := time.Now()
	took, err := appendEvents(ctx, lb, o.liveEvents, o.writers, o.batch, data)
	if err != nil {
		return nil, err
	}
	var lags []time.Duration
	var lastAll time.Time
	for _, s := range subs {
		select {
		case <-s.done:
		case <-s.sub.Done():
			return nil, fmt.Errorf("a subscription ended: %v", s.sub.Err())
		case <-ctx.Done():
			s.mu.Lock()
			got := s.got
			s.mu.Unlock()
			return nil, fmt.Errorf("a subscriber has %d of %d events: %w", got, o.liveEvents, ctx.Err())
		}
		s.mu.Lock()
		if s.bad != nil {
			s.mu.Unlock()
			return nil, s.bad
		}
		lags = append(lags, s.lags...)
		if s.last.After(lastAll) {
			lastAll = s.last
		}
		s.mu.Unlock()
	}
	slices.Sort(lags)
	return &fanResult{
		appendRate: float64(o.liveEvents) / took.Seconds(),
		perSub:     float64(o.liveEvents) / lastAll.Sub(start).Seconds(),
		lagP50:     lags[len(lags)/2],
		lagMax:     lags[len(lags)-1],
	}, nil
}

// jsStream is the JetStream stream, on subjects fanout.>.
const jsStream = "FANOUT"

func writeJetStream(ctx context.Context, js *benchkit.JetStream, n int, data []byte) error {
	for i := range n {
		if _, err := js.JS.PublishAsync(fmt.Sprintf("fanout.s%d", i%400), data); err != nil {
			return err
		}
		if i%1024 == 1023 { // stay under the async publish window (4000)
			select {
			case <-js.JS.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	got, err := js.Flush(ctx)
	if err != nil {
		return err
	}
	if got != uint64(n) {
		return fmt.Errorf("stream holds %d messages after writing %d", got, n)
	}
	return nil
}

// replayJetStream reads the whole stream with an ordered consumer (created
// inside the timed section, as a catch-up subscription is) until it has n
// messages, checking that they come in order.
func replayJetStream(ctx context.Context, js *benchkit.JetStream, n int) (time.Duration, error) {
	var bad error
	d, err := js.Replay(ctx, "", n, 4096, func(i int, m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil && md.Sequence.Stream != uint64(i) && bad == nil {
			bad = fmt.Errorf("message %d has sequence %d", i, md.Sequence.Stream)
		}
	})
	if err != nil {
		return 0, err
	}
	return d, bad
}

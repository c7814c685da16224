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
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	for f := range strings.SplitSeq(*subs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-subscribers: %q is not a positive number", f)
		}
		o.subscribers = append(o.subscribers, n)
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

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbfanout:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "lbfanout:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "lbfanout-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	fmt.Printf("lbfanout: Logbook live events and catch-up vs JetStream ordered consumer\n")
	fmt.Printf("%s %s/%s, %d CPUs (GOMAXPROCS %d), data in %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), dir)
	fmt.Printf("history %d events, live %d events per scenario, %d-byte events, %d writers x %d events per append\n\n",
		o.events, o.liveEvents, o.eventSize, o.writers, o.batch)

	raft, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	lb, err := embed.Start(ctx, embed.Config{DataDir: filepath.Join(dir, "logbook"), NATSPort: -1, RaftAddress: raft, Logger: logger})
	if err != nil {
		return fmt.Errorf("start logbook: %w", err)
	}
	defer lb.Close()
	js, err := startJetStream(ctx, dir)
	if err != nil {
		return err
	}
	defer js.close()

	data := make([]byte, o.eventSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}

	// History, in both systems.
	fmt.Fprintln(os.Stderr, "writing the history...")
	if _, err := appendEvents(ctx, lb, o.events, o.writers, o.batch, data); err != nil {
		return fmt.Errorf("logbook history: %w", err)
	}
	if err := js.write(ctx, o.events, data); err != nil {
		return fmt.Errorf("jetstream history: %w", err)
	}

	// Catch-up replay.
	var lbTimes, jsTimes []time.Duration
	for r := range o.reps {
		fmt.Fprintf(os.Stderr, "replay %d/%d...\n", r+1, o.reps)
		d, err := replayLogbook(ctx, lb, o.events, o.page)
		if err != nil {
			return fmt.Errorf("logbook replay: %w", err)
		}
		lbTimes = append(lbTimes, d)
		d, err = js.replay(ctx, o.events)
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

// jetstreamSystem is an embedded nats-server with JetStream on file storage,
// every write fsynced, holding one R1 stream FANOUT on fanout.>.
type jetstreamSystem struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}

const jsStream = "FANOUT"

func startJetStream(ctx context.Context, dir string) (*jetstreamSystem, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName: "lbfanout-jetstream", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: filepath.Join(dir, "jetstream"),
		SyncAlways: true, SyncInterval: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("start jetstream: server not ready after 10s")
	}
	s := &jetstreamSystem{ns: ns}
	fail := func(err error) (*jetstreamSystem, error) {
		s.close()
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	if s.nc, err = nats.Connect(ns.ClientURL()); err != nil {
		return fail(err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return fail(err)
	}
	if _, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: jsStream, Subjects: []string{"fanout.>"}, Storage: jetstream.FileStorage, Replicas: 1,
	}); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *jetstreamSystem) write(ctx context.Context, n int, data []byte) error {
	for i := range n {
		if _, err := s.js.PublishAsync(fmt.Sprintf("fanout.s%d", i%400), data); err != nil {
			return err
		}
		if i%1024 == 1023 { // stay under the async publish window (4000)
			select {
			case <-s.js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-s.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	info, err := s.js.Stream(ctx, jsStream)
	if err != nil {
		return err
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(n) {
		return fmt.Errorf("stream holds %d messages after writing %d", got, n)
	}
	return nil
}

// replay reads the whole stream with an ordered consumer (created inside the
// timed section, as a catch-up subscription is) until it has n messages.
func (s *jetstreamSystem) replay(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	cons, err := s.js.OrderedConsumer(ctx, jsStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	got := 0
	var bad error
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil && md.Sequence.Stream != uint64(got+1) && bad == nil {
			bad = fmt.Errorf("message %d has sequence %d", got+1, md.Sequence.Stream)
		}
		got++
		if got == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	d := time.Since(start)
	cc.Stop()
	<-cc.Closed()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.js.DeleteConsumer(dctx, jsStream, cons.CachedInfo().Name)
	cancel()
	if ctx.Err() != nil {
		return 0, fmt.Errorf("%d of %d messages before the deadline: %w", got, n, ctx.Err())
	}
	return d, bad
}

func (s *jetstreamSystem) close() {
	if s.nc != nil {
		s.nc.Close()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// liveFlags are the flags tail and subscribe share: the filter and the bounds.
type liveFlags struct {
	category, stream, typ *string
	count                 *int
	dur                   *time.Duration
}

func addLiveFlags(fs *flag.FlagSet) *liveFlags {
	return &liveFlags{
		category: fs.String("category", "", "only streams of this category (name before the first '-')"),
		stream:   fs.String("stream", "", "only this stream"),
		typ:      fs.String("type", "", "only events of this type"),
		count:    fs.Int("count", 0, "stop after this many events (0: no limit)"),
		dur:      fs.Duration("for", 0, "stop after this long, e.g. 30s (0: no limit)"),
	}
}

// context is cancelled on Ctrl-C, SIGTERM or after --for.
func (f *liveFlags) context() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if *f.dur <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, *f.dur)
	return ctx, func() { cancel(); stop() }
}

// printLive prints one event of tail or subscribe.
func printLive(e *client.RecordedEvent) {
	if asJSON {
		if err := printWireJSON(e, ""); err != nil {
			fmt.Fprintln(os.Stderr, "lbctl:", err)
		}
		return
	}
	printEvent(e)
}

// tailSubject is the live subject of the filter (schemas/live-events.md):
// events.<store>.<category>.<stream>.<type>, with wildcards where the
// filter is silent.
func tailSubject(store string, f *liveFlags) (string, error) {
	cat, stream, typ := *f.category, *f.stream, *f.typ
	if cat != "" && stream != "" {
		return "", errors.New("tail: --category and --stream do not go together (a stream's category follows from its name)")
	}
	switch {
	case stream != "" && typ != "":
		return subjects.Event(store, stream, typ), nil
	case stream != "":
		return subjects.EventsOfStream(store, stream), nil
	case cat != "" && typ != "":
		return strings.TrimSuffix(subjects.EventsOfCategory(store, cat), ">") + "*." + subjects.EscapeToken(typ), nil
	case cat != "":
		return subjects.EventsOfCategory(store, cat), nil
	case typ != "":
		return subjects.EventsOfType(store, typ), nil
	}
	return subjects.EventsOfStore(store), nil
}

// tailCmd runs `lbctl tail`: the live events as they are published, at
// most once (a message lost on the way is not read back: use subscribe).
func tailCmd(c *client.Client, store string, args []string) error {
	fs := newFlags("tail")
	lf := addLiveFlags(fs)
	if _, err := parseAnywhere(fs, args, 0); err != nil {
		return err
	}
	if err := wire.ValidateStoreID(store); err != nil {
		return err
	}
	subject, err := tailSubject(store, lf)
	if err != nil {
		return err
	}
	ctx, stop := lf.context()
	defer stop()
	msgs := make(chan *nats.Msg, 4096)
	sub, err := c.Conn().ChanSubscribe(subject, msgs)
	if err != nil {
		return fmt.Errorf("tail: subscribe to %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	if err := c.Conn().Flush(); err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	fmt.Fprintf(os.Stderr, "tailing %s (Ctrl-C to stop)\n", subject)
	for n := 0; *lf.count <= 0 || n < *lf.count; {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			var ev client.RecordedEvent
			if err := wire.UnmarshalReply(m.Data, &ev); err != nil {
				fmt.Fprintf(os.Stderr, "lbctl: tail: skipped a bad message on %s: %v\n", m.Subject, err)
				continue
			}
			printLive(&ev)
			n++
		}
	}
	return nil
}

// subscribeCmd runs `lbctl subscribe`: a catch-up subscription
// (client.Store.Subscribe), history from --from then live events.
func subscribeCmd(s *client.Store, args []string) error {
	fs := newFlags("subscribe")
	lf := addLiveFlags(fs)
	from := fs.String("from", "0", "first position (with --stream: revision) to deliver, or end: only new events")
	if _, err := parseAnywhere(fs, args, 0); err != nil {
		return err
	}
	start := client.FromEnd
	if *from != "end" {
		n, err := strconv.ParseUint(*from, 10, 64)
		if err != nil {
			return fmt.Errorf("--from %q: want a position or end", *from)
		}
		start = n
	}
	ctx, stop := lf.context()
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	handler := func(e *client.RecordedEvent) {
		if *lf.count > 0 && n >= *lf.count {
			return
		}
		printLive(e)
		if n++; *lf.count > 0 && n >= *lf.count {
			cancel()
		}
	}
	var last client.Status
	status := func(st client.Status) { // on stderr: stdout holds only events
		if st == last {
			return // the client may report the same state twice
		}
		last = st
		switch {
		case st.Kind == client.StatusCaughtUp:
			fmt.Fprintf(os.Stderr, "caught up: live from %d\n", st.Next)
		case st.Err != nil:
			fmt.Fprintf(os.Stderr, "fell behind (%s: %v); reading from %d\n", st.Reason, st.Err, st.Next)
		default:
			fmt.Fprintf(os.Stderr, "fell behind (%s); reading from %d\n", st.Reason, st.Next)
		}
	}
	filter := client.SubscribeFilter{Stream: *lf.stream, Category: *lf.category, EventType: *lf.typ}
	sub, err := s.Subscribe(ctx, start, filter, handler, client.StatusHandler(status))
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-sub.Done():
	}
	sub.Stop()
	if ctx.Err() != nil { // Ctrl-C, --for or --count: a normal end
		return nil
	}
	return sub.Err()
}

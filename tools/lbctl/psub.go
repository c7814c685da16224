package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

const psubUsage = `usage: lbctl [global flags] psub <command> [flags] [args]

persistent subscriptions of the store (schemas/persistent-subscriptions.md):
  create <name>        create one (idempotent with the same definition):
                         filter:   --stream S | --prefix P | --category C, --type T[,T…]
                         start:    --from start (default) | end | <position>
                         settings: --max-in-flight N --ack-timeout D --max-retries N
                                   --strategy round_robin|pinned
  list                 list the store's subscriptions
  info <name>          definition, checkpoint, parked count, consumers and events in flight
  parked <name>        list parked events (--after POSITION, --limit N)
  replay <name>        deliver parked events again (--max N)
  delete <name>        delete it, its checkpoint and its parked events
`

// psubCmd runs `lbctl psub <command>`.
func psubCmd(ctx context.Context, s *client.Store, args []string) error {
	cmd, rest, fs := subcommand("psub", args)
	switch cmd {
	case "create":
		stream := fs.String("stream", "", "only this stream")
		prefix := fs.String("prefix", "", "only streams with this prefix")
		category := fs.String("category", "", "only streams of this category")
		types := fs.String("type", "", "only these event types, comma-separated")
		from := fs.String("from", "start", "start: start, end or a position")
		maxInFlight := fs.Int64("max-in-flight", 0, "events in flight per consumer (default: the server's, 10)")
		ackTimeout := fs.Duration("ack-timeout", 0, "redeliver an event not settled within this (default: the server's, 30s)")
		maxRetries := fs.Int64("max-retries", -1, "deliveries after the first before parking (default: the server's, 10)")
		strategy := fs.String("strategy", "", "round_robin or pinned (default: round_robin)")
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		o := client.SubscriptionOptions{}
		if *stream != "" || *prefix != "" || *category != "" || *types != "" {
			o.Filter = &client.SubscriptionFilter{Stream: *stream, StreamPrefix: *prefix, Category: *category}
			if *types != "" {
				o.Filter.EventTypes = strings.Split(*types, ",")
			}
		}
		switch *from {
		case "start":
		case "end":
			o.FromEnd = true
		default:
			p, err := strconv.ParseUint(*from, 10, 63)
			if err != nil {
				return fmt.Errorf("--from %q: want start, end or a position", *from)
			}
			o.FromPosition = &p
		}
		set := client.SubscriptionSettings{Strategy: *strategy}
		given := *strategy != ""
		if *maxInFlight > 0 {
			set.MaxInFlight, given = maxInFlight, true
		}
		if *ackTimeout > 0 {
			ms := ackTimeout.Milliseconds()
			set.AckTimeoutMs, given = &ms, true
		}
		if *maxRetries >= 0 {
			set.MaxRetries, given = maxRetries, true
		}
		if given {
			o.Settings = &set
		}
		info, err := s.CreateSubscription(ctx, args[0], o)
		if err != nil {
			return err
		}
		return emit(info, func() {
			if info.Existed {
				fmt.Printf("subscription %s already exists with this definition (nothing created)\n", info.Subscription)
			} else {
				fmt.Printf("created subscription %s\n", info.Subscription)
			}
			printPSub(info)
		})
	case "list":
		if _, err := parseAnywhere(fs, rest, 0); err != nil {
			return err
		}
		l, err := s.ListSubscriptions(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			return printWireJSON(wire.ListSubscriptionsReply{Subscriptions: l}, "  ")
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SUBSCRIPTION\tFILTER\tCHECKPOINT\tPARKED\tIN FLIGHT\tCONSUMERS\tSTRATEGY")
		for _, i := range l {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", i.Subscription, filterText(i.Filter), i.Checkpoint, i.ParkedCount, i.InFlight, len(i.Consumers), i.Settings.Strategy)
		}
		return tw.Flush()
	case "info":
		return showOne(ctx, fs, rest, s.SubscriptionInfo, printPSub)
	case "parked":
		pg, err := parsePage(fs, rest, "parked events (positions)", 100)
		if err != nil {
			return err
		}
		p, err := s.ParkedEvents(ctx, pg.arg, pg.after, pg.limit)
		if err != nil {
			return err
		}
		return emit(p, func() {
			if len(p.Events) == 0 {
				fmt.Printf("no parked events in %s\n", pg.arg)
			}
			for _, e := range p.Events {
				fmt.Printf("#%d %s@%d %s  parked %s (%s, %d deliveries)\n", e.Event.Position, e.Event.Stream, e.Event.Revision, e.Event.Type, ts(e.Parked), e.Reason, e.DeliveryCount)
			}
			if p.More && len(p.Events) > 0 {
				fmt.Printf("-- more: --after %d\n", p.Events[len(p.Events)-1].Event.Position)
			}
		})
	case "replay":
		max := fs.Int("max", 0, "replay at most this many (default: the server's, 1000)")
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		n, err := s.ReplayParked(ctx, args[0], *max)
		if err != nil {
			return err
		}
		return emit(map[string]any{"subscription": args[0], "replaying": n}, func() {
			fmt.Printf("replaying %d parked event(s) of %s; each leaves the park once a consumer acks or skips it\n", n, args[0])
		})
	case "delete":
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		if err := s.DeleteSubscription(ctx, args[0]); err != nil {
			return err
		}
		return emit(map[string]any{"subscription": args[0], "deleted": true}, func() {
			fmt.Printf("deleted subscription %s\n", args[0])
		})
	}
	fmt.Fprint(os.Stderr, psubUsage)
	return fmt.Errorf("unknown psub command %q", cmd)
}

func printPSub(i *client.SubscriptionInfo) {
	fmt.Printf("subscription %s\n  filter       %s\n  start        %d\n  checkpoint   %d\n  parked       %d\n  in flight    %d\n  waiting      %d\n",
		i.Subscription, filterText(i.Filter), i.StartPosition, i.Checkpoint, i.ParkedCount, i.InFlight, i.Waiting)
	st := i.Settings
	fmt.Printf("  settings     max_in_flight %s, ack_timeout %s, max_retries %s, strategy %s\n",
		i64(st.MaxInFlight), time.Duration(deref(st.AckTimeoutMs))*time.Millisecond, i64(st.MaxRetries), st.Strategy)
	fmt.Printf("  created      %s\n  updated      %s\n", ts(i.Created), ts(i.Updated))
	for _, c := range i.Consumers {
		fmt.Printf("  consumer     %s (%d in flight)\n", c.Consumer, c.InFlight)
	}
}

func filterText(f client.SubscriptionFilter) string {
	var parts []string
	if f.Stream != "" {
		parts = append(parts, "stream "+f.Stream)
	}
	if f.StreamPrefix != "" {
		parts = append(parts, "prefix "+f.StreamPrefix)
	}
	if f.Category != "" {
		parts = append(parts, "category "+f.Category)
	}
	if len(f.EventTypes) > 0 {
		parts = append(parts, "types "+strings.Join(f.EventTypes, ","))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func i64(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

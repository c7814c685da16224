// Command lbctl is a small command-line client of Logbook, for trying it out
// and for operators:
//
//	lbctl append order-1 OrderPlaced '{"sku":"abc"}'
//	lbctl read order-1
//	lbctl read-all --category order
//	lbctl streams
//	lbctl info order-1
//	lbctl delete order-1
//	lbctl stores create orders --replication-factor 1
//	lbctl stores list
//	lbctl stores remove --yes orders
//	lbctl stores watch
//	lbctl cluster view
//	lbctl cluster health
//
// The stores subcommands (store lifecycle) are in stores.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/natsauth"
)

const usage = `usage: lbctl [global flags] <command> [flags] [args]

commands:
  append <stream> <type> [data]   append one event (data as given, content type from --content-type)
  read <stream>                   read a stream (--backward, --from N, --max N)
  read-all                        read $all (--backward, --from N, --max N, --prefix P, --category C, --type T)
  streams                         list streams (--prefix P, --after NAME, --limit N)
  info <stream>                   show a stream's info
  delete <stream>                 delete a stream for good (--expect N)
  stores <command>                manage stores: create, remove, list, status, config, watch
                                  (lbctl stores help)
  cluster view|health [--json]    the cluster view (nodes, stores, leaders, drift) or its health
  cluster remove-node <id> --yes  take a storenode out for good (its replicas move first)

global flags:
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lbctl:", err)
		var e *client.Error
		if errors.As(err, &e) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	global := flag.NewFlagSet("lbctl", flag.ContinueOnError)
	url := global.String("server", envOr("LOGBOOK_URL", "nats://127.0.0.1:4222"), "NATS URL (env LOGBOOK_URL)")
	store := global.String("store", envOr("LOGBOOK_STORE", "default"), "store id (env LOGBOOK_STORE)")
	timeout := global.Duration("timeout", 10*time.Second, "request timeout")
	natsAuth := natsauth.Register(global) // -nats-creds, -nats-user, -nats-tls-cert, …
	global.Usage = func() { fmt.Fprint(os.Stderr, usage); global.PrintDefaults() }
	if err := global.Parse(args); err != nil {
		return err
	}
	if global.NArg() == 0 {
		global.Usage()
		return errors.New("no command")
	}
	if global.Arg(0) == "stores" && storesHelp(global.Args()[1:]) {
		return nil
	}
	natsOpts, err := natsAuth.Options()
	if err != nil {
		return err
	}
	c, err := client.Connect(*url, client.WithTimeout(*timeout), client.WithNATSOptions(natsOpts...))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	s := c.Store(*store)
	cmd, rest := global.Arg(0), global.Args()[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	switch cmd {
	case "stores":
		return storesCmd(ctx, c, rest)
	case "cluster":
		return clusterCmd(ctx, c, rest)
	case "append":
		ct := fs.String("content-type", "application/json", "content type of the data")
		expect := fs.String("expect", "any", "expected revision: any, no_stream, stream_exists or a number")
		if err := parse(fs, rest, 2); err != nil {
			return err
		}
		exp, err := parseExpect(*expect)
		if err != nil {
			return err
		}
		ev := client.Event{Type: fs.Arg(1), DataContentType: *ct}
		if fs.NArg() > 2 {
			ev.Data = []byte(fs.Arg(2))
		}
		r, err := s.Append(ctx, fs.Arg(0), exp, ev)
		if err != nil {
			return err
		}
		fmt.Printf("appended %s revision %d at position %d%s\n", fs.Arg(0), r.FirstRevision, r.FirstPosition, dupNote(r.Duplicate))
	case "read":
		backward := fs.Bool("backward", false, "read backward (from the end unless --from)")
		from := fs.Int64("from", -1, "first revision")
		max := fs.Int("max", 100, "max events")
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		o := client.ReadOptions{MaxCount: *max, Direction: dir(*backward)}
		if *from >= 0 {
			o.From = client.Revision(uint64(*from))
		}
		p, err := s.Read(ctx, fs.Arg(0), o)
		if err != nil {
			return err
		}
		for _, e := range p.Events {
			printEvent(e)
		}
		fmt.Printf("-- last revision %d, end of stream: %v, next: %d\n", p.LastRevision, p.EndOfStream, p.NextRevision)
	case "read-all":
		backward := fs.Bool("backward", false, "read backward (from the end unless --from)")
		from := fs.Int64("from", -1, "first position")
		max := fs.Int("max", 100, "max events")
		prefix := fs.String("prefix", "", "only streams with this prefix")
		category := fs.String("category", "", "only streams of this category (name before the first '-')")
		typ := fs.String("type", "", "only events of this type")
		if err := parse(fs, rest, 0); err != nil {
			return err
		}
		o := client.ReadAllOptions{MaxCount: *max, Direction: dir(*backward)}
		if *from >= 0 {
			o.From = client.Revision(uint64(*from))
		}
		if *prefix != "" || *category != "" || *typ != "" {
			o.Filter = &client.Filter{StreamPrefix: *prefix, Category: *category}
			if *typ != "" {
				o.Filter.EventTypes = []string{*typ}
			}
		}
		p, err := s.ReadAll(ctx, o)
		if err != nil {
			return err
		}
		for _, e := range p.Events {
			printEvent(e)
		}
		fmt.Printf("-- end of store: %v, next position: %d\n", p.EndOfStore, p.NextPosition)
	case "streams":
		prefix := fs.String("prefix", "", "only names with this prefix")
		after := fs.String("after", "", "start after this name")
		limit := fs.Int("limit", 100, "max streams")
		if err := parse(fs, rest, 0); err != nil {
			return err
		}
		l, err := s.ListStreams(ctx, client.ListOptions{Prefix: *prefix, After: *after, Limit: *limit})
		if err != nil {
			return err
		}
		for _, st := range l.Streams {
			del := ""
			if st.Deleted {
				del = " (deleted)"
			}
			fmt.Printf("%s  revision %d  events %d%s\n", st.Stream, st.LastRevision, st.EventCount, del)
		}
		if l.Next != "" {
			fmt.Printf("-- more: --after %q\n", l.Next)
		}
	case "info":
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		i, err := s.StreamInfo(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Printf("stream %s\n  last revision %d\n  events %d\n  positions %d..%d\n  created %s\n  updated %s\n  deleted %v\n",
			i.Stream, i.LastRevision, i.EventCount, i.FirstPosition, i.LastPosition, ts(i.Created), ts(i.Updated), i.Deleted)
	case "delete":
		expect := fs.String("expect", "any", "expected revision: any, stream_exists or a number")
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		exp, err := parseExpect(*expect)
		if err != nil {
			return err
		}
		r, err := s.DeleteStream(ctx, fs.Arg(0), exp)
		if err != nil {
			return err
		}
		fmt.Printf("deleted %s at revision %d\n", r.Stream, r.LastRevision)
	default:
		global.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < nargs {
		return fmt.Errorf("%s needs %d argument(s)", fs.Name(), nargs)
	}
	return nil
}

func parseExpect(s string) (client.ExpectedRevision, error) {
	switch s {
	case "any":
		return client.Any, nil
	case "no_stream":
		return client.NoStream, nil
	case "stream_exists":
		return client.StreamExists, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return client.Any, fmt.Errorf("--expect %q: want any, no_stream, stream_exists or a revision", s)
	}
	return client.Exact(n), nil
}

func dir(backward bool) client.Direction {
	if backward {
		return client.Backward
	}
	return client.Forward
}

func printEvent(e client.RecordedEvent) {
	fmt.Printf("#%d %s@%d %s %s %s\n", e.Position, e.Stream, e.Revision, e.Type, ts(e.Timestamp), e.Data)
}

func ts(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func dupNote(dup bool) string {
	if dup {
		return " (already written: duplicate)"
	}
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

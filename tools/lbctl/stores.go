package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

const storesUsage = `usage: lbctl [global flags] stores <command> [flags] [args]

commands:
  create <id>      create a store (idempotent with the same settings); settings not
                   given take the cluster's defaults:
                     --replication-factor N  --request-timeout-ms N  --max-event-size N
                     --max-append-events N   --max-read-count N
                     --max-events N  --max-bytes N   (quota; 0: no limit)
  set-quota <id>   change a store's quota (admin): --max-events N and/or --max-bytes N
                   (a flag not given keeps its value; 0 removes that limit)
  remove <id>      remove a store and ALL its events, irreversibly (needs --yes)
  list             list stores (--after ID, --limit N)
  status <id>      show a store's status
  config <id>      show a store's effective configuration
  watch [id]       print lifecycle events (of one store, or all) until Ctrl-C
  backup <id> <file>
                   write a consistent backup of a store to a file (online: the store
                   keeps serving; the backup holds exactly the events up to the
                   position it reports); a progress bar on a terminal, then a summary
  restore <file> <new-id>
                   create store <new-id> from a backup file (checked whole first);
                   positions, revisions, ids and timestamps are kept. The store is
                   invisible until the restore completes, and removed if it fails.
                     --replication-factor N
`

// storesCmd runs `lbctl stores <command>`.
func storesCmd(ctx context.Context, c *client.Client, args []string) error {
	st := c.Stores()
	cmd, rest, fs := subcommand("stores", args)
	switch cmd {
	case "create":
		s := &client.StoreSettings{}
		fields := map[string]**int64{
			"replication-factor": &s.ReplicationFactor,
			"request-timeout-ms": &s.RequestTimeoutMs,
			"max-event-size":     &s.MaxEventSize,
			"max-append-events":  &s.MaxAppendEvents,
			"max-read-count":     &s.MaxReadCount,
			"max-events":         &s.MaxEvents,
			"max-bytes":          &s.MaxBytes,
		}
		values := map[string]*int64{}
		for name := range fields {
			values[name] = fs.Int64(name, 0, "store setting "+strings.ReplaceAll(name, "-", "_")+" (default: the cluster's)")
		}
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		// Send only the settings given on the command line: the others
		// take the cluster's defaults.
		given := false
		fs.Visit(func(f *flag.Flag) { *fields[f.Name], given = values[f.Name], true })
		if !given {
			s = nil
		}
		r, err := st.Create(ctx, args[0], s)
		if err != nil {
			return err
		}
		if asJSON {
			return printWireJSON(r, "  ")
		}
		switch {
		case r.Existed:
			fmt.Printf("store %s already exists with these settings (nothing created)\n", args[0])
		case r.Status.Status == "creating":
			fmt.Printf("store %s is created but not serving yet (see: lbctl stores status %s)\n", args[0], args[0])
		default:
			fmt.Printf("created store %s\n", args[0])
		}
		printStatus(&r.Status)
		printConfig(&r.Config)
	case "remove":
		yes := fs.Bool("yes", false, "confirm: the store and all its events are deleted for good")
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		if !*yes {
			return fmt.Errorf("removing store %q deletes it and all its events for good; there is no undo. Run again with --yes to confirm", args[0])
		}
		s, err := st.Remove(ctx, args[0])
		if err != nil {
			return err
		}
		return emit(s, func() {
			fmt.Printf("removing store %s (status %s); its data is being deleted. Watch for the end with: lbctl stores watch %s\n", s.Store, s.Status, s.Store)
		})
	case "list":
		after := fs.String("after", "", "start after this store id")
		limit := fs.Int("limit", 100, "max stores (1-1000)")
		if _, err := parseAnywhere(fs, rest, 0); err != nil {
			return err
		}
		l, err := st.List(ctx, *after, *limit)
		if err != nil {
			return err
		}
		return emit(l, func() {
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STORE\tSTATUS\tLEADER\tREPLICAS\tCREATED\tNOTE")
			for _, s := range l.Stores {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Store, s.Status, leader(s.Leader), ids(s.Replicas), ts(s.Created), s.ConfigMismatch)
			}
			tw.Flush()
			if l.Next != "" {
				fmt.Printf("-- more: --after %s\n", l.Next)
			}
		})
	case "set-quota":
		maxEvents := fs.Int64("max-events", 0, "quota of events stored (0: no limit)")
		maxBytes := fs.Int64("max-bytes", 0, "quota of bytes of events stored (0: no limit)")
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		var me, mb *int64
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "max-events":
				me = maxEvents
			case "max-bytes":
				mb = maxBytes
			}
		})
		if me == nil && mb == nil {
			return fmt.Errorf("stores set-quota needs --max-events, --max-bytes or both")
		}
		cfg, err := st.SetQuota(ctx, args[0], me, mb)
		if err != nil {
			return err
		}
		return emit(cfg, func() { printConfig(cfg) })
	case "status":
		return showOne(ctx, fs, rest, st.Status, printStatus)
	case "config":
		return showOne(ctx, fs, rest, st.Config, printConfig)
	case "watch":
		if len(rest) > 1 {
			return fmt.Errorf("stores watch takes at most one store id")
		}
		args, err := parseAnywhere(fs, rest, len(rest))
		if err != nil {
			return err
		}
		store := ""
		if len(args) > 0 {
			store = args[0]
			if err := wire.ValidateStoreID(store); err != nil {
				return err
			}
		}
		return watch(c, store)
	default:
		fmt.Fprint(os.Stderr, storesUsage)
		return fmt.Errorf("unknown stores command %q", cmd)
	}
	return nil
}

// watch prints lifecycle events until interrupted. Events are delivered at
// most once: it is a live view, not a history.
func watch(c *client.Client, store string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub, err := c.Stores().SubscribeEvents(store, func(e client.StoreEvent) {
		if asJSON {
			printWireJSON(e, "")
			return
		}
		prev := ""
		if e.Previous != "" {
			prev = " (was " + e.Previous + ")"
		}
		fmt.Printf("%s  %-14s  %s  %s%s\n", ts(e.Timestamp), e.Kind, e.Store, e.Status, prev)
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := c.Conn().Flush(); err != nil {
		return err
	}
	what := "every store"
	if store != "" {
		what = "store " + store
	}
	fmt.Fprintf(os.Stderr, "watching lifecycle events of %s (Ctrl-C to stop)\n", what)
	<-ctx.Done()
	return nil
}

func printStatus(s *client.StoreStatus) {
	fmt.Printf("store %s\n  status    %s\n  leader    %s\n  replicas  %s\n  created   %s\n  updated   %s\n",
		s.Store, s.Status, leader(s.Leader), ids(s.Replicas), ts(s.Created), ts(s.Updated))
	if u := s.Usage; u != nil {
		fmt.Printf("  events    %s\n  bytes     %s\n", ofQuota(u.Events, u.MaxEvents), ofQuota(u.Bytes, u.MaxBytes))
	}
	if s.ConfigMismatch != "" {
		fmt.Printf("  config mismatch: %s\n", s.ConfigMismatch)
	}
}

// ofQuota shows a usage figure against its quota (0: no limit).
func ofQuota(used, quota uint64) string {
	if quota == 0 {
		return fmt.Sprintf("%d (no quota)", used)
	}
	return fmt.Sprintf("%d of %d (%.1f%%)", used, quota, 100*float64(used)/float64(quota))
}

func quotaValue(v int64) string {
	if v == 0 {
		return "none"
	}
	return fmt.Sprint(v)
}

func printConfig(c *client.StoreConfig) {
	fmt.Printf("config of %s\n  origin              %s\n  shard               %d\n  replication_factor  %d\n  request_timeout_ms  %d\n  max_event_size      %d\n  max_append_events   %d\n  max_read_count      %d\n  max_events          %s\n  max_bytes           %s\n  created             %s\n",
		c.Store, c.Origin, c.ShardID, c.ReplicationFactor, c.RequestTimeoutMs, c.MaxEventSize, c.MaxAppendEvents, c.MaxReadCount,
		quotaValue(c.MaxEvents), quotaValue(c.MaxBytes), ts(c.Created))
}

func leader(id uint64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

func ids(v []uint64) string {
	s := make([]string, len(v))
	for i, id := range v {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

// parseAnywhere parses flags placed before, between or after the arguments
// (`stores create orders --replication-factor 1`; "--" ends the flags) and
// returns the arguments, of which it wants exactly nargs.
func parseAnywhere(fs *flag.FlagSet, args []string, nargs int) ([]string, error) {
	return parseArgs(fs, args, nargs, nargs)
}

// parseArgs is parseAnywhere wanting min to max arguments.
func parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		// fs.Parse stopped at an argument, or after "--".
		rest := fs.Args()
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) >= min && len(pos) <= max {
		return pos, nil
	}
	if min == max {
		return nil, fmt.Errorf("%s needs %d argument(s), got %d", fs.Name(), min, len(pos))
	}
	return nil, fmt.Errorf("%s needs %d to %d arguments, got %d", fs.Name(), min, max, len(pos))
}

// Command lbctl is a small command-line client of Logbook, for trying it out
// and for operators:
//
//	lbctl append order-1 OrderPlaced '{"sku":"abc"}'
//	lbctl read order-1
//	lbctl read-all --category order
//	lbctl tail --category order
//	lbctl subscribe --from 0 --count 10
//	lbctl psub create billing --category order
//	lbctl snapshots read order-1
//	lbctl stores create orders --replication-factor 1
//	lbctl cluster view
//
// Every command takes --json. The stream commands are in streams.go, tail
// and subscribe in live.go, psub in psub.go, snapshots in snapshots.go,
// stores in stores.go and cluster in cluster.go. Flags are the standard
// library's, placed anywhere among the arguments (parseAnywhere).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/flagenv"
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
  tail                            print live events as they are committed (--category C | --stream S,
                                  --type T, --count N, --for D); at most once: a live view, not a history
  subscribe                       catch-up subscription: history from --from (a position, a revision with
                                  --stream, or end), then live, each event once and in order
                                  (--category C | --stream S | --type T, --count N, --for D)
  psub <command>                  persistent subscriptions: create, list, info, parked, replay, delete
                                  (lbctl psub help)
  snapshots <command>             aggregate snapshots: save, read, list, delete (lbctl snapshots help)
  stores <command>                manage stores: create, remove, list, status, config, watch,
                                  backup, restore
                                  (lbctl stores help)
  cluster view|health             the cluster view (nodes, stores, leaders, drift) or its health
  cluster remove-node <id> --yes  take a storenode out for good (its replicas move first)
  cluster version [--hold|--release]  the cluster version; hold it back or let it rise
  tenant <user> <store>[,...]     print the NATS permissions that give a user exactly these stores
                                  (docs/security.md; needs no server)

Every command takes --json: its result as one JSON document with the wire
protocol's field names (tail, subscribe, stores watch: one JSON object a line).

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

// helps are the commands with subcommands, and their usage.
var helps = map[string]string{"stores": storesUsage, "psub": psubUsage, "snapshots": snapshotsUsage}

func run(args []string) error {
	global := flag.NewFlagSet("lbctl", flag.ContinueOnError)
	url := global.String("server", flagenv.String("LOGBOOK_URL", "nats://127.0.0.1:4222"), "NATS URL (env LOGBOOK_URL)")
	store := global.String("store", flagenv.String("LOGBOOK_STORE", "default"), "store id (env LOGBOOK_STORE)")
	timeout := global.Duration("timeout", 10*time.Second, "request timeout")
	jsonFlag(global)
	natsAuth := natsauth.Register(global) // -nats-creds, -nats-user, -nats-tls-cert, …
	global.Usage = func() { fmt.Fprint(os.Stderr, usage); global.PrintDefaults() }
	if err := global.Parse(args); err != nil {
		return err
	}
	if global.NArg() == 0 {
		global.Usage()
		return errors.New("no command")
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	if isHelp(cmd) {
		global.Usage()
		return nil
	}
	if u, ok := helps[cmd]; ok && (len(rest) == 0 || isHelp(rest[0])) {
		fmt.Fprint(os.Stderr, u)
		if len(rest) == 0 {
			return fmt.Errorf("%s: no command", cmd)
		}
		return nil
	}
	if cmd == "tenant" {
		return tenant(rest)
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
	s := c.Store(*store)
	switch cmd {
	case "tail":
		return tailCmd(c, *store, rest)
	case "subscribe":
		return subscribeCmd(s, rest)
	}
	if cmd == "stores" && (rest[0] == "backup" || rest[0] == "restore") {
		// No overall deadline: each request has the timeout (backup.go).
		if rest[0] == "backup" {
			return backupCmd(c, rest[1:])
		}
		return restoreCmd(c, rest[1:])
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	switch cmd {
	case "stores":
		return storesCmd(ctx, c, rest)
	case "cluster":
		return clusterCmd(ctx, c, rest)
	case "psub":
		return psubCmd(ctx, s, rest)
	case "snapshots":
		return snapshotsCmd(ctx, s, rest)
	}
	if ok, err := streamCmd(ctx, s, cmd, rest); ok {
		return err
	}
	global.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

// subcommand splits the arguments of a command group (psub, snapshots,
// stores) into its subcommand, the rest, and the subcommand's flag set.
func subcommand(group string, args []string) (cmd string, rest []string, fs *flag.FlagSet) {
	return args[0], args[1:], newFlags(group + " " + args[0])
}

// newFlags returns the flag set of a command, with --json.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	jsonFlag(fs)
	return fs
}

func ts(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/logbookdb/logbook/pkg/client"
)

const snapshotsUsage = `usage: lbctl [global flags] snapshots <command> [flags] [args]

aggregate snapshots of a stream (schemas/snapshots.md):
  save <stream> <version> <type> [data]   save a snapshot of the stream's state at revision <version>
                                          (--content-type, default application/json; --keep-last N)
  read <stream>                           read the latest snapshot (--max-version N: the latest at or below N)
  list <stream>                           list the stream's snapshots without content (--after V, --limit N)
  delete <stream> <version>               delete one snapshot
  delete --all <stream>                   delete every snapshot of the stream
`

// snapshotsCmd runs `lbctl snapshots <command>`.
func snapshotsCmd(ctx context.Context, s *client.Store, args []string) error {
	cmd, rest, fs := subcommand("snapshots", args)
	switch cmd {
	case "save":
		ct := fs.String("content-type", "application/json", "content type of the data")
		keep := fs.Int("keep-last", 0, "then keep only the stream's N highest versions (0: keep all)")
		args, err := parseArgs(fs, rest, 3, 4)
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(args[1], 10, 63)
		if err != nil {
			return fmt.Errorf("snapshot version %q: %w", args[1], err)
		}
		snap := client.NewSnapshot{Version: v, Type: args[2], DataContentType: *ct, KeepLast: *keep}
		if len(args) > 3 {
			snap.Data = []byte(args[3])
		}
		r, err := s.SaveSnapshot(ctx, args[0], snap)
		if err != nil {
			return err
		}
		return emit(r, func() {
			fmt.Printf("saved snapshot of %s at version %d%s", r.Stream, r.Version, dupNote(r.Duplicate))
			if r.Pruned > 0 {
				fmt.Printf(", pruned %d older", r.Pruned)
			}
			fmt.Println()
		})
	case "read":
		maxVersion := fs.Int64("max-version", -1, "the latest snapshot at or below this version")
		args, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return err
		}
		sn, err := s.ReadSnapshot(ctx, args[0], client.ReadSnapshotOptions{MaxVersion: optUint(*maxVersion)})
		if err != nil {
			return err
		}
		return emit(sn, func() {
			fmt.Printf("snapshot of %s at version %d\n  type     %s\n  created  %s\n  data     %s\n", sn.Stream, sn.Version, sn.Type, ts(sn.Created), sn.Data)
			if len(sn.Metadata) > 0 {
				fmt.Printf("  metadata %s\n", sn.Metadata)
			}
		})
	case "list":
		pg, err := parsePage(fs, rest, "snapshot versions", 0)
		if err != nil {
			return err
		}
		l, err := s.ListSnapshots(ctx, pg.arg, client.ListSnapshotsOptions{After: pg.after, Limit: pg.limit})
		if err != nil {
			return err
		}
		return emit(l, func() {
			for _, i := range l.Snapshots {
				fmt.Printf("version %d  %s  %d bytes (+%d metadata)  %s\n", i.Version, i.Type, i.DataSize, i.MetadataSize, ts(i.Created))
			}
			if l.Next != nil {
				fmt.Printf("-- more: --after %d\n", *l.Next)
			}
		})
	case "delete":
		all := fs.Bool("all", false, "delete every snapshot of the stream")
		args, err := parseArgs(fs, rest, 1, 2)
		if err != nil {
			return err
		}
		var r *client.SnapshotsDeleted
		switch {
		case *all && len(args) == 1:
			r, err = s.DeleteSnapshots(ctx, args[0])
		case !*all && len(args) == 2:
			v, perr := strconv.ParseUint(args[1], 10, 63)
			if perr != nil {
				return fmt.Errorf("snapshot version %q: %w", args[1], perr)
			}
			r, err = s.DeleteSnapshot(ctx, args[0], v)
		default:
			return fmt.Errorf("snapshots delete wants <stream> <version>, or --all <stream>")
		}
		if err != nil {
			return err
		}
		return emit(r, func() { fmt.Printf("deleted %d snapshot(s) of %s\n", r.Deleted, r.Stream) })
	}
	fmt.Fprint(os.Stderr, snapshotsUsage)
	return fmt.Errorf("unknown snapshots command %q", cmd)
}

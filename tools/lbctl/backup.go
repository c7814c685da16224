package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// `lbctl stores backup <store> <file>` and `lbctl stores restore <file>
// <new-store>` (schemas/backup.md, docs/operations.md). Neither has an
// overall deadline: each request has the --timeout, and Ctrl-C stops them
// (a stopped backup leaves no file; a stopped restore removes the store).

// backupCmd runs `lbctl stores backup`.
func backupCmd(c *client.Client, rest []string) error {
	fs := newFlags("stores backup")
	args, err := parseAnywhere(fs, rest, 2)
	if err != nil {
		return err
	}
	store, path := args[0], args[1]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Write next to the target and rename at the end: a file at path is
	// always a whole backup.
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	bar := newBar("backup " + store)
	sum, err := c.Store(store).Backup(ctx, tmp, func(p client.BackupProgress) { bar.update(p) })
	bar.finish()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	return emit(summaryJSON(sum, store, path), func() {
		n := sum.Counts
		fmt.Printf("backed up store %s to %s\n  consistent to position %d (events 0-%d)\n  events %d, streams %d, snapshots %d, subscriptions %d, parked %d\n  %s in %s (%s)\n",
			store, path, sum.Header.Position, int64(sum.Header.Position)-1, n.Events, n.Streams, n.Snapshots, n.Subscriptions, n.Parked,
			bytesText(sum.Bytes), sum.Duration.Round(time.Millisecond), rate(n.Events, sum.Duration))
	})
}

// restoreCmd runs `lbctl stores restore`.
func restoreCmd(c *client.Client, rest []string) error {
	fs := newFlags("stores restore")
	rf := fs.Int64("replication-factor", 0, "the new store's replication factor (default: the cluster's)")
	args, err := parseAnywhere(fs, rest, 2)
	if err != nil {
		return err
	}
	path, store := args[0], args[1]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := client.RestoreOptions{}
	if *rf > 0 {
		opts.Settings = &client.StoreSettings{ReplicationFactor: rf}
	}
	bar := newBar("restore " + store)
	opts.Progress = bar.update
	sum, err := c.Stores().Restore(ctx, f, store, opts)
	bar.finish()
	if err != nil {
		return err
	}
	return emit(summaryJSON(sum, store, path), func() {
		n := sum.Counts
		fmt.Printf("restored store %s from %s (a backup of %s)\n  position %d; events %d, streams %d, snapshots %d, subscriptions %d, parked %d\n  %s in %s (%s)\n",
			store, path, sum.Header.Store, sum.Header.Position, n.Events, n.Streams, n.Snapshots, n.Subscriptions, n.Parked,
			bytesText(sum.Bytes), sum.Duration.Round(time.Millisecond), rate(n.Events, sum.Duration))
	})
}

// summaryJSON is what --json prints for a backup or a restore.
func summaryJSON(s *client.BackupSummary, store, path string) map[string]any {
	return map[string]any{
		"store": store, "file": path, "source_store": s.Header.Store, "position": s.Header.Position,
		"taken": s.Header.Taken, "counts": s.Counts, "bytes": s.Bytes, "duration_ms": s.Duration.Milliseconds(),
	}
}

// bar is a progress bar on stdout, or nothing when stdout is not a
// terminal or the output is JSON (a script reads it).
type bar struct {
	pb *progressbar.ProgressBar
}

func newBar(what string) *bar {
	if asJSON || !term.IsTerminal(int(os.Stdout.Fd())) {
		return &bar{}
	}
	return &bar{pb: progressbar.NewOptions64(-1,
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWriter(os.Stdout),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *bar) update(p client.BackupProgress) {
	if b.pb == nil {
		return
	}
	if b.pb.GetMax64() != int64(p.Position) && p.Position > 0 {
		b.pb.ChangeMax64(int64(p.Position))
	}
	b.pb.Set64(int64(p.Events))
}

func (b *bar) finish() {
	if b.pb != nil {
		b.pb.Finish()
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func rate(events uint64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f events/s", float64(events)/d.Seconds())
}

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// Idle stores (-idle-stores): before the append scenarios, Logbook gets n
// more stores, created and then left alone until they are dormant, and each
// JetStream n more streams (-jetstream-idle-streams), so that the scenarios
// on the busy store (Logbook's default store, JetStream's BENCH stream) show
// what the idle ones cost.

// idleCreators is how many stores or streams are created at once.
const idleCreators = 8

// idleResult is what the run had idle, and how long setting it up took.
type idleResult struct {
	LogbookStores   int     `json:"logbook_stores"`
	HibernateAfterS float64 `json:"hibernate_after_s"`
	CreateS         float64 `json:"logbook_create_s"`  // creating the stores
	DormantS        float64 `json:"logbook_dormant_s"` // from the last create until the view shows all dormant
	// DormantAfter is how many of them the view showed dormant after the
	// scenarios (-1: not asked): fewer than LogbookStores means some woke.
	DormantAfter     int                `json:"logbook_dormant_after"`
	JetStreamStreams int                `json:"jetstream_streams"`  // on each JetStream
	JetStreamCreateS map[string]float64 `json:"jetstream_create_s"` // by JetStream
}

// addIdleStores creates n idle stores and waits, at most wait, until the
// cluster view shows them all dormant.
func (s *logbookSystem) addIdleStores(ctx context.Context, n int, wait time.Duration, res *idleResult) error {
	t0 := time.Now()
	done := progress(fmt.Sprintf("idle: creating %d Logbook stores", n))
	err := benchkit.CreateStores(ctx, s.reader, n, idleCreators, createTimeout)
	done()
	if err != nil {
		return fmt.Errorf("idle stores: %w", err)
	}
	res.CreateS = time.Since(t0).Seconds()
	t1 := time.Now()
	fmt.Fprintf(os.Stderr, "idle: %d stores created in %.1fs; waiting until they are dormant (at most %s)...\n", n, res.CreateS, wait)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if _, err := benchkit.WaitDormant(wctx, s.reader, n, 500*time.Millisecond); err != nil {
		return fmt.Errorf("idle stores: %w", err)
	}
	res.DormantS = time.Since(t1).Seconds()
	fmt.Fprintf(os.Stderr, "idle: all %d dormant %.1fs after the last create\n", n, res.DormantS)
	return nil
}

// countDormant fills res.DormantAfter (-1 if the view cannot be had).
func (s *logbookSystem) countDormant(ctx context.Context, res *idleResult) {
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := benchkit.CountDormant(vctx, s.reader, res.LogbookStores)
	if err != nil {
		fmt.Fprintf(os.Stderr, "idle: count of dormant stores after the scenarios: %v\n", err)
		n = -1
	}
	res.DormantAfter = n
}

// addIdleStreams creates n idle streams.
func (s *jetstreamSystem) addIdleStreams(ctx context.Context, n int, res *idleResult) error {
	t0 := time.Now()
	done := progress(fmt.Sprintf("idle: creating %d streams on %s", n, s.name()))
	err := benchkit.CreateIdleStreams(ctx, s.JS, n, idleCreators, createTimeout)
	done()
	if err != nil {
		return fmt.Errorf("%s: idle streams: %w", s.name(), err)
	}
	res.JetStreamCreateS[s.name()] = time.Since(t0).Seconds()
	return nil
}

// createTimeout bounds each create of an idle store or stream.
const createTimeout = 30 * time.Second

// progress prints what on stderr, then the time it has taken every 10 s
// until done is called.
func progress(what string) (done func()) {
	fmt.Fprintf(os.Stderr, "%s...\n", what)
	t0 := time.Now()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() { // stopped by done
		defer close(finished)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "%s: %.0fs so far\n", what, time.Since(t0).Seconds())
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// print writes one line on what was idle.
func (r *idleResult) print(w io.Writer) {
	if r == nil || r.LogbookStores == 0 && r.JetStreamStreams == 0 {
		fmt.Fprintln(w, "idle: none (only the benchmark's own store and streams)")
		return
	}
	if r.LogbookStores > 0 {
		fmt.Fprintf(w, "idle: %d more Logbook stores (hibernate after %gs): created in %.1fs, all dormant %.1fs later",
			r.LogbookStores, r.HibernateAfterS, r.CreateS, r.DormantS)
		if r.DormantAfter >= 0 {
			fmt.Fprintf(w, ", %d still dormant after the scenarios", r.DormantAfter)
		}
		fmt.Fprintln(w)
	}
	if r.JetStreamStreams > 0 {
		fmt.Fprintf(w, "idle: %d more streams on each JetStream (file storage, R1, empty), created in", r.JetStreamStreams)
		for _, name := range slices.Sorted(maps.Keys(r.JetStreamCreateS)) {
			fmt.Fprintf(w, " %s %.1fs", name, r.JetStreamCreateS[name])
		}
		fmt.Fprintln(w)
	}
}

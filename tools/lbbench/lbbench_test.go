package main

import (
	"context"
	"testing"
	"time"

	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// TestSystems runs a tiny version of the whole benchmark against both
// systems and checks that the optimistic-concurrency check really is made:
// an append with a stale expectation must fail on both.
func TestSystems(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Logbook and JetStream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	js, err := startJetStream(ctx, dir, benchkit.SyncAlways)
	if err != nil {
		t.Fatal(err)
	}
	defer js.close()
	jsd, err := startJetStream(ctx, dir, benchkit.SyncDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer jsd.close()
	lb, err := startLogbook(ctx, dir, embed.Config{Logger: benchkit.Logger(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.close()

	for _, sys := range []system{js, jsd, lb} {
		t.Run(sys.name(), func(t *testing.T) {
			a, err := sys.newAppender(0)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			s := &streamState{name: sys.streamName("occ", 0)}
			data := benchkit.Payload(16)
			for range 2 {
				if err := a.Append(ctx, s, data); err != nil {
					t.Fatal(err)
				}
			}
			stale := &streamState{name: s.name}
			if err := a.Append(ctx, stale, data); err == nil {
				t.Fatal("append expecting no stream succeeded on an existing stream")
			}
			stale = &streamState{name: s.name, exists: true, last: s.last - 1}
			if err := a.Append(ctx, stale, data); err == nil {
				t.Fatal("append with a stale expected revision succeeded")
			}
			got := streamState{name: s.name}
			if err := a.Lookup(ctx, &got); err != nil || got != *s {
				t.Fatalf("lookup: %+v, %v; want %+v", got, err, *s)
			}

			res, err := runAppend(ctx, sys, appendConfig{clients: 3, streams: 10, eventSize: 32, duration: 300 * time.Millisecond, opTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.Errors != 0 || res.Mismatches != 0 {
				t.Fatalf("append run: %+v", res)
			}
			rr, err := runRead(ctx, sys, 50, 32, 3)
			if err != nil {
				t.Fatal(err)
			}
			if rr.Reps != 3 || rr.MedianUs <= 0 {
				t.Fatalf("read run: %+v", rr)
			}
		})
	}
}

// TestIdleStores runs the benchmark with a few idle stores and streams: the
// stores must all be dormant before the scenarios and still dormant after
// them, and the busy store's appends measured.
func TestIdleStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Logbook and JetStream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := &options{
		duration: time.Second, clients: []int{1}, streams: 10, eventSize: 64, readReps: 1,
		only: "both", jsSync: []string{benchkit.SyncAlways}, opTimeout: 10 * time.Second,
		idleStores: 5, hibernateAfter: 2 * time.Second, jsIdleStreams: -1,
	}
	if err := o.idleDefaults(); err != nil {
		t.Fatal(err)
	}
	rep, err := execute(ctx, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	idle := rep.Idle
	if idle.LogbookStores != 5 || idle.DormantS <= 0 || idle.DormantAfter != 5 {
		t.Errorf("idle stores: %+v; want 5 created, dormant, and still dormant after the scenarios", idle)
	}
	if idle.JetStreamStreams != 5 || idle.JetStreamCreateS["js-always"] <= 0 {
		t.Errorf("idle streams: %+v; want 5 on js-always", idle)
	}
	for _, sys := range []string{"logbook", "js-always"} {
		a := rep.find(sys, 1)
		if a == nil || a.Ops == 0 || a.Errors != 0 || a.Mismatches != 0 {
			t.Errorf("%s appends: %+v", sys, a)
		}
	}
}

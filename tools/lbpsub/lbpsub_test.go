package main

import (
	"context"
	"testing"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// TestScenarios runs a tiny version of every scenario against Logbook and
// both JetStream settings: every backlog event and every live event must be
// delivered and its acknowledgement confirmed, for each strategy and for
// 1 and 2 consumers.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Logbook and JetStream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var systems []psubSystem
	for _, setting := range []string{benchkit.SyncAlways, benchkit.SyncDefault} {
		js, err := startJetStream(ctx, dir, setting)
		if err != nil {
			t.Fatal(err)
		}
		defer js.close()
		systems = append(systems, js)
	}
	lb, err := startLogbook(ctx, dir, benchkit.Logger(false))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.close()
	systems = append(systems, lb)

	n := 0
	for _, consumers := range []int{1, 2} {
		for _, sys := range systems {
			strategies := []string{""}
			if sys.name() == "logbook" {
				strategies = []string{"round_robin", "pinned"}
			}
			for _, strat := range strategies {
				n++
				sc := scenario{tag: "x" + string(rune('a'+n)), strategy: strat, consumers: consumers, events: 300, live: 20, inFlight: 16, size: 64}
				res, err := sys.run(ctx, sc)
				if err != nil {
					t.Fatalf("%s %s %d: %v", sys.name(), strat, consumers, err)
				}
				if res.PerSec <= 0 || res.LiveEvents != 20 || res.LiveP50us <= 0 {
					t.Fatalf("%s %s %d: %+v", sys.name(), strat, consumers, res)
				}
			}
		}
	}
}

package tests

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// A logbook process killed with SIGKILL while its stores are dormant starts
// again with them still dormant (none is started at start-up), and each
// wakes at its first request with every event it had.
func TestDormantStoresSurviveKill9(t *testing.T) {
	site := newProcSite(t)
	args := withArgs("-hibernate-after", "1s")
	p := site.start(args)
	c := site.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ids := []string{"default"}
	for i := range 4 {
		id := fmt.Sprintf("k%d", i)
		if _, err := c.Stores().Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		for j := range 3 {
			if _, err := c.Store(id).Append(ctx, "s", client.Any, ev("E", fmt.Sprintf(`{"j":%d}`, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	allDormant := func() error {
		v, err := c.View(ctx)
		if err != nil {
			return err
		}
		for _, s := range v.Stores {
			if s.Health != wire.StoreDormant {
				return fmt.Errorf("store %s: %s", s.Store, s.Health)
			}
		}
		return nil
	}
	eventually(t, 30*time.Second, allDormant)

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	// Restarted with a delay of an hour, no store can go dormant again
	// before the check: every store dormant now was never started.
	site.start(withArgs("-hibernate-after", "1h"))
	eventually(t, 10*time.Second, allDormant)
	for _, id := range ids {
		if got := readAllEvents(t, c.Store(id), ^uint64(0)); len(got) != 3 {
			t.Fatalf("store %s after the restart reads %d events, want 3", id, len(got))
		}
	}
	if _, err := c.Store("k0").Append(ctx, "s", client.Any, ev("E", `{}`)); err != nil {
		t.Fatalf("append after the restart: %v", err)
	}
}

package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Per-store quotas (issue 13) on a three-node cluster: real dragonboat
// replicas on disk, real NATS, the gateway in front.

// evBytes is an event's size as the byte quota counts it.
func evBytes(stream string, e client.Event) uint64 {
	return sm.EventBytes(stream, e.Type, e.Data, e.Metadata, e.DataContentType, e.MetadataContentType)
}

// wantUsage waits until the store's status reports usage matching want
// (events, bytes, quota): every node's answer converges within a heartbeat.
func wantUsage(t *testing.T, st *client.Stores, store string, want client.StoreUsage) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		s, err := st.Status(ctxT(t), store)
		if err != nil {
			return err
		}
		if s.Usage == nil || *s.Usage != want {
			return fmt.Errorf("store %s usage %+v, want %+v", store, s.Usage, want)
		}
		return nil
	})
}

// readTypes reads a whole stream's event types.
func readTypes(t *testing.T, s *client.Store, stream string) []string {
	t.Helper()
	page, err := s.Read(ctxT(t), stream, client.ReadOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	var out []string
	for _, e := range page.Events {
		out = append(out, e.Type)
	}
	return out
}

func wantQuotaExceeded(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, client.ErrQuotaExceeded) {
		t.Fatalf("%s: %v, want quota_exceeded", what, err)
	}
}

func TestQuotaEnforcedAcrossFailoverAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	st := c.Client.Stores()

	// Three stores: a quota of events, a quota of bytes, none.
	e := ev("E", "abc") // 32 + len("ev") + 1 + 3 = 38 bytes in stream "ev"
	perEvent := evBytes("ev", e)
	if r, err := st.Create(ctx, "quota-events", &client.StoreSettings{MaxEvents: i64(5)}); err != nil || r.Config.MaxEvents != 5 {
		t.Fatalf("create with max_events: %+v, %v", r, err)
	}
	if _, err := st.Create(ctx, "quota-bytes", &client.StoreSettings{MaxBytes: i64(int64(4 * perEvent))}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, "quota-none", nil); err != nil {
		t.Fatal(err)
	}
	qe, qb, free := c.Client.Store("quota-events"), c.Client.Store("quota-bytes"), c.Client.Store("quota-none")

	// max_events: 3 fit; a batch of 3 crossing the quota is refused whole.
	if _, err := qe.Append(ctx, "ev", client.Any, e, e, e); err != nil {
		t.Fatal(err)
	}
	_, err := qe.Append(ctx, "ev", client.Any, ev("Over1", "x"), ev("Over2", "x"), ev("Over3", "x"))
	wantQuotaExceeded(t, "a batch past max_events", err)
	if got := readTypes(t, qe, "ev"); len(got) != 3 {
		t.Fatalf("a refused batch changed the stream: %v", got)
	}
	if _, err := qe.Append(ctx, "ev", client.Exact(2), e, e); err != nil {
		t.Fatalf("the last two that fit: %v", err)
	}
	_, err = qe.Append(ctx, "other", client.Any, e)
	wantQuotaExceeded(t, "a full store", err)

	// max_bytes: 3 events fit, a batch of 2 more would cross 4 events' bytes.
	if _, err := qb.Append(ctx, "ev", client.Any, e, e, e); err != nil {
		t.Fatal(err)
	}
	_, err = qb.Append(ctx, "ev", client.Any, e, e)
	wantQuotaExceeded(t, "a batch past max_bytes", err)
	big := ev("E", "abcd") // one byte more than the room left
	_, err = qb.Append(ctx, "ev", client.Any, big)
	wantQuotaExceeded(t, "one byte past max_bytes", err)
	if _, err := qb.Append(ctx, "ev", client.Any, e); err != nil {
		t.Fatalf("the event that fits exactly: %v", err)
	}

	// Other stores keep working; reads and deletes work on a full store.
	for i := range 10 {
		if _, err := free.Append(ctx, "s", client.Any, ev("Free", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := qe.DeleteStream(ctx, "ev", client.Any); err != nil {
		t.Fatalf("delete on a full store: %v", err)
	}
	// A delete is a tombstone: the events stay stored and keep counting.
	_, err = qe.Append(ctx, "after-delete", client.Any, e)
	wantQuotaExceeded(t, "a full store after a delete", err)

	wantUsage(t, st, "quota-events", client.StoreUsage{Events: 5, Bytes: 5 * perEvent, MaxEvents: 5})
	wantUsage(t, st, "quota-bytes", client.StoreUsage{Events: 4, Bytes: 4 * perEvent, MaxBytes: 4 * perEvent})
	noneBytes := uint64(0)
	for i := range 10 {
		noneBytes += evBytes("s", ev("Free", fmt.Sprint(i)))
	}
	wantUsage(t, st, "quota-none", client.StoreUsage{Events: 10, Bytes: noneBytes})

	// Racing appends at the edge: of 12 concurrent single-event appends to
	// a store with room for 6, exactly 6 pass, on every replica alike.
	if _, err := st.Create(ctx, "quota-race", &client.StoreSettings{MaxEvents: i64(6)}); err != nil {
		t.Fatal(err)
	}
	race := c.Client.Store("quota-race")
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, refused := 0, 0
	for i := range 12 {
		wg.Go(func() {
			_, err := race.Append(ctx, fmt.Sprintf("r-%d", i), client.Any, ev("R", "x"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case errors.Is(err, client.ErrQuotaExceeded):
				refused++
			default:
				t.Errorf("racing append: %v", err)
			}
		})
	}
	wg.Wait()
	if passed != 6 || refused != 6 {
		t.Fatalf("racing appends: %d passed, %d refused; want 6 and 6", passed, refused)
	}
	all, err := race.ReadAll(ctx, client.ReadAllOptions{})
	if err != nil || len(all.Events) != 6 {
		t.Fatalf("racing appends stored %d events (%v), want 6", len(all.Events), err)
	}

	// Failover: the quota and usage are in the replicated state, so the new
	// leader enforces them.
	s := ledInView(t, c, "quota-events")
	old := c.node(s.Leader)
	c.stop(s.Leader)
	eventually(t, 30*time.Second, func() error {
		_, err := qe.Append(ctx, "after-failover", client.Any, e)
		if errors.Is(err, client.ErrQuotaExceeded) {
			return nil
		}
		return fmt.Errorf("append after failover: %v", err)
	})
	wantUsage(t, st, "quota-events", client.StoreUsage{Events: 5, Bytes: 5 * perEvent, MaxEvents: 5})

	// Changing the quota: the store's leader sets it in the store's state
	// machine, and set_quota answers once a replica reports it in force;
	// raising it lets two more in.
	cfg, err := st.SetQuota(ctx, "quota-events", i64(7), nil)
	if err != nil || cfg.MaxEvents != 7 || cfg.MaxBytes != 0 {
		t.Fatalf("set_quota: %+v, %v", cfg, err)
	}
	if _, err := qe.Append(ctx, "raised", client.Any, e, e); err != nil {
		t.Fatalf("append under the raised quota: %v", err)
	}
	_, err = qe.Append(ctx, "raised", client.Any, e)
	wantQuotaExceeded(t, "past the raised quota", err)
	raisedBytes := 5*perEvent + 2*evBytes("raised", e)
	if _, err := st.SetQuota(ctx, "nope", i64(1), nil); !errors.Is(err, client.ErrStoreNotFound) {
		t.Fatalf("set_quota of a missing store: %v", err)
	}
	if _, err := st.SetQuota(ctx, "quota-events", nil, nil); !errors.Is(err, codes.ErrInvalidArgument) {
		t.Fatalf("set_quota with no quota: %v", err)
	}

	// Restart: the stopped node comes back and catches up, then the whole
	// cluster restarts on its data: quota, usage and data survive.
	c.restart(old)
	c.waitReady()
	wantUsage(t, st, "quota-events", client.StoreUsage{Events: 7, Bytes: raisedBytes, MaxEvents: 7})
	var nodes []*memNode
	for id := uint64(1); id <= 3; id++ {
		nodes = append(nodes, c.node(id))
		c.stop(id)
	}
	for _, m := range nodes {
		c.restart(m)
	}
	c.waitReady()
	eventually(t, 30*time.Second, func() error {
		_, err := qe.Append(ctx, "after-restart", client.Any, e)
		if errors.Is(err, client.ErrQuotaExceeded) {
			return nil
		}
		return fmt.Errorf("append after restart: %v", err)
	})
	_, err = qb.Append(ctx, "ev", client.Any, e)
	wantQuotaExceeded(t, "max_bytes after restart", err)
	if got := readTypes(t, qb, "ev"); len(got) != 4 {
		t.Fatalf("quota-bytes after restart: %v", got)
	}
	wantUsage(t, st, "quota-events", client.StoreUsage{Events: 7, Bytes: raisedBytes, MaxEvents: 7})
	wantUsage(t, st, "quota-bytes", client.StoreUsage{Events: 4, Bytes: 4 * perEvent, MaxBytes: 4 * perEvent})
	if _, err := free.Append(context.Background(), "s", client.Any, ev("Free", "after")); err != nil {
		t.Fatalf("the store without a quota after restart: %v", err)
	}
	// Removing the quota lets appends in again.
	if _, err := st.SetQuota(ctx, "quota-events", i64(0), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := qe.Append(ctx, "unlimited", client.Any, e); err != nil {
		t.Fatalf("append with the quota removed: %v", err)
	}
	wantUsage(t, st, "quota-events", client.StoreUsage{Events: 8, Bytes: raisedBytes + evBytes("unlimited", e)})
}

// A store declared in the configuration with a quota (the all-in-one
// Logbook, one storenode): created once the cluster version allows quotas,
// enforced, and reported in its status and config; a changed quota in the
// configuration is a config mismatch, and stores.set_quota changes it.
func TestQuotaOfConfiguredStore(t *testing.T) {
	declare := func(maxEvents int64) func(*embed.Config) {
		return func(c *embed.Config) {
			c.Stores = []node.StaticStore{{ID: "capped", Settings: client.StoreSettings{MaxEvents: i64(maxEvents)}}}
		}
	}
	in := startLogbook(t, declare(2))
	st, ctx := in.Client.Stores(), ctxT(t)
	capped := in.Client.Store("capped")
	eventually(t, 30*time.Second, func() error {
		_, err := capped.Append(ctx, "s", client.Any, ev("E", "1"), ev("E", "2"))
		return err
	})
	_, err := capped.Append(ctx, "s", client.Any, ev("E", "3"))
	wantQuotaExceeded(t, "past a configured quota", err)
	if cfg, err := st.Config(ctx, "capped"); err != nil || cfg.MaxEvents != 2 {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	b := evBytes("s", ev("E", "1"))
	wantUsage(t, st, "capped", client.StoreUsage{Events: 2, Bytes: 2 * b, MaxEvents: 2})

	// Restart with another quota in the configuration: the registry wins.
	in.configure = []func(*embed.Config){declare(3)}
	in.restart()
	eventually(t, 20*time.Second, func() error {
		s, err := in.Client.Stores().Status(ctx, "capped")
		if err != nil || !strings.Contains(s.ConfigMismatch, "max_events: configured 3, stored 2") {
			return fmt.Errorf("status after a changed configured quota: %+v, %v", s, err)
		}
		return nil
	})
	_, err = in.Client.Store("capped").Append(ctx, "s", client.Any, ev("E", "3"))
	wantQuotaExceeded(t, "the registry's quota after restart", err)
	if _, err := in.Client.Stores().SetQuota(ctx, "capped", i64(3), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Client.Store("capped").Append(ctx, "s", client.Any, ev("E", "3")); err != nil {
		t.Fatalf("append under the raised quota: %v", err)
	}
}

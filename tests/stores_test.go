package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

func i64(v int64) *int64 { return &v }

// storeDir is where a store's state machine lived under a Logbook's data
// directory before the node's stores shared one engine (data-directory
// format 1): no store has one any more.
func storeDir(dataDir, id string) string {
	return filepath.Join(dataDir, "storenode", "stores", id)
}

// engineShards lists the shards with keys in node 1's engine. The node must
// be stopped.
func engineShards(t *testing.T, dataDir string) []uint64 {
	t.Helper()
	eng, err := sm.OpenEngine(filepath.Join(dataDir, "storenode", "engine"), sm.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	shards, err := eng.Shards()
	if err != nil {
		t.Fatal(err)
	}
	return shards
}

// storeKeys counts the keys a store's replica on node 1 holds in the
// node's engine. The node must be stopped: the engine is opened here.
func storeKeys(t *testing.T, dataDir string, shard uint64) int {
	t.Helper()
	eng, err := sm.OpenEngine(filepath.Join(dataDir, "storenode", "engine"), sm.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	n, err := eng.ReplicaKeys(shard, 1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func dirExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// defaultConfig is the effective configuration a store created without
// settings gets from a single-node Logbook started by startLogbook.
func defaultConfig(id string) client.StoreConfig {
	l := wire.DefaultLimits()
	return client.StoreConfig{
		Store: id, ReplicationFactor: 1, RequestTimeoutMs: 5000,
		MaxEventSize: int64(l.MaxEventSize), MaxAppendEvents: int64(l.MaxAppendEvents), MaxReadCount: int64(l.MaxReadCount),
	}
}

// sameSettings compares the settings of two configurations (not shard,
// origin or creation time).
func sameSettings(a, b client.StoreConfig) bool {
	return a.Store == b.Store && a.ReplicationFactor == b.ReplicationFactor && a.RequestTimeoutMs == b.RequestTimeoutMs &&
		a.MaxEventSize == b.MaxEventSize && a.MaxAppendEvents == b.MaxAppendEvents && a.MaxReadCount == b.MaxReadCount
}

// listStores pages through stores.list, page stores at a time.
func listStores(t *testing.T, st *client.Stores, page int) []client.StoreStatus {
	t.Helper()
	var out []client.StoreStatus
	after := ""
	for i := 0; ; i++ {
		l, err := st.List(ctxT(t), after, page)
		if err != nil {
			t.Fatalf("list after %q: %v", after, err)
		}
		if len(l.Stores) > page {
			t.Fatalf("list page of %d stores, limit %d", len(l.Stores), page)
		}
		out = append(out, l.Stores...)
		if l.Next == "" {
			return out
		}
		if l.Next <= after || i > 1000 {
			t.Fatalf("list paging does not advance: after %q, next %q", after, l.Next)
		}
		after = l.Next
	}
}

func storeIDs(ss []client.StoreStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Store
	}
	return out
}

// waitStoreStatus polls a store's status until it is want.
func waitStoreStatus(t *testing.T, st *client.Stores, id, want string) *client.StoreStatus {
	t.Helper()
	var got *client.StoreStatus
	poll(t, 20*time.Second, 20*time.Millisecond, func() error {
		s, err := st.Status(ctxT(t), id)
		if err == nil && s.Status == want {
			got = s
			return nil
		}
		return fmt.Errorf("store %s not %s; last status: %+v %v", id, want, s, err)
	})
	return got
}

// waitStoreGone polls a store's status until it is store_not_found.
func waitStoreGone(t *testing.T, st *client.Stores, id string) {
	t.Helper()
	poll(t, 20*time.Second, 20*time.Millisecond, func() error {
		s, err := st.Status(ctxT(t), id)
		if errors.Is(err, codes.ErrStoreNotFound) {
			return nil
		}
		return fmt.Errorf("store %s still there after its removal; last status: %+v %v", id, s, err)
	})
}

// eventKey is what identifies a recorded event for comparisons.
func eventKey(e client.RecordedEvent) string {
	return fmt.Sprintf("%s|%s@%d|pos %d|%s|%q", e.ID, e.Stream, e.Revision, e.Position, e.Type, e.Data)
}

func eventKeys(evs []client.RecordedEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = eventKey(e)
	}
	return out
}

func bigEvent(size int) client.Event {
	// An event's size is its type plus data (plus metadata and content types).
	return client.Event{Type: "T", Data: bytes.Repeat([]byte("x"), size-1)}
}

// The whole lifecycle API on one Logbook: create (with defaults and with
// settings), status, config, list, create again, bad settings, bad ids,
// remove, and what is left of a removed store.
func TestStoreLifecycle(t *testing.T) {
	in := startLogbook(t)
	st := in.Client.Stores()
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow() // the steps build on each other
		}
	}

	var defaultShard uint64
	step("default store", func(t *testing.T) {
		ctx := ctxT(t)
		c, err := st.Config(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		want := defaultConfig("default")
		if !sameSettings(*c, want) || c.Origin != "default" || c.ShardID < 2 || c.Created == 0 {
			t.Fatalf("default config %+v, want settings %+v and origin default", c, want)
		}
		defaultShard = c.ShardID
		// Start returns once the default store is served; its registry
		// status may trail by a reconciler pass.
		s := waitStoreStatus(t, st, "default", wire.StatusRunning)
		if s.Store != "default" || s.Status != wire.StatusRunning || !slices.Equal(s.Replicas, []uint64{1}) || s.Leader != 1 || s.ConfigMismatch != "" {
			t.Fatalf("default status %+v", s)
		}
	})

	var alpha client.StoreConfig
	alphaEvents := []string{}
	step("create with defaults", func(t *testing.T) {
		ctx := ctxT(t)
		before := time.Now().UnixNano()
		r, err := st.Create(ctx, "alpha", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Existed || r.Status.Store != "alpha" || r.Status.Status != wire.StatusRunning || !slices.Equal(r.Status.Replicas, []uint64{1}) {
			t.Fatalf("create reply status %+v existed %v", r.Status, r.Existed)
		}
		if !sameSettings(r.Config, defaultConfig("alpha")) || r.Config.Origin != "api" || r.Config.ShardID == defaultShard ||
			r.Config.Created < before || r.Config.Created > time.Now().UnixNano() {
			t.Fatalf("create reply config %+v", r.Config)
		}
		alpha = r.Config
		c, err := st.Config(ctx, "alpha")
		if err != nil || *c != alpha {
			t.Fatalf("config %+v %v, want %+v", c, err, alpha)
		}
		s, err := st.Status(ctx, "alpha")
		if err != nil || s.Status != wire.StatusRunning || s.Created != alpha.Created || s.ConfigMismatch != "" {
			t.Fatalf("status %+v %v", s, err)
		}
		if dirExists(t, storeDir(in.dir, "alpha")) {
			t.Fatalf("alpha got a directory of its own: stores live in the node's engine")
		}
		// It serves as soon as create returns.
		a, err := in.Client.Store("alpha").Append(ctx, "s", client.NoStream, ev("E", "a0"))
		if err != nil {
			t.Fatal(err)
		}
		if a.FirstRevision != 0 || a.FirstPosition != 0 {
			t.Fatalf("first append to a new store: %+v", a)
		}
		p, err := in.Client.Store("alpha").Read(ctx, "s", client.ReadOptions{})
		if err != nil || len(p.Events) != 1 {
			t.Fatalf("read %+v %v", p, err)
		}
		alphaEvents = append(alphaEvents, p.Events[0].ID)
		if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"alpha", "default"}) {
			t.Fatalf("list %v", got)
		}
	})

	var small client.StoreConfig
	smallSettings := &client.StoreSettings{RequestTimeoutMs: i64(2000), MaxEventSize: i64(100), MaxAppendEvents: i64(2), MaxReadCount: i64(3)}
	step("settings override defaults", func(t *testing.T) {
		ctx := ctxT(t)
		r, err := st.Create(ctx, "small", smallSettings)
		if err != nil {
			t.Fatal(err)
		}
		want := client.StoreConfig{Store: "small", ReplicationFactor: 1, RequestTimeoutMs: 2000, MaxEventSize: 100, MaxAppendEvents: 2, MaxReadCount: 3}
		if r.Existed || r.Status.Status != wire.StatusRunning || !sameSettings(r.Config, want) || r.Config.Origin != "api" {
			t.Fatalf("create %+v", r)
		}
		small = r.Config
		if c, err := st.Config(ctx, "small"); err != nil || *c != small {
			t.Fatalf("config %+v %v", c, err)
		}
		sm, al := in.Client.Store("small"), in.Client.Store("alpha")
		// max_event_size: 100 bytes pass, 101 do not, in small only.
		if _, err := sm.Append(ctx, "s", client.Any, bigEvent(100)); err != nil {
			t.Fatal(err)
		}
		_, err = sm.Append(ctx, "s", client.Any, bigEvent(101))
		wantCode(t, err, codes.EventTooLarge)
		if _, err := al.Append(ctx, "big", client.Any, bigEvent(101)); err != nil {
			t.Fatalf("101 bytes in a store with default settings: %v", err)
		}
		// max_append_events: 2 pass, 3 do not, in small only.
		if _, err := sm.Append(ctx, "s", client.Any, ev("E", "1"), ev("E", "2")); err != nil {
			t.Fatal(err)
		}
		_, err = sm.Append(ctx, "s", client.Any, ev("E", "1"), ev("E", "2"), ev("E", "3"))
		wantCode(t, err, codes.TooManyEvents)
		if _, err := al.Append(ctx, "three", client.Any, ev("E", "1"), ev("E", "2"), ev("E", "3")); err != nil {
			t.Fatalf("3 events in a store with default settings: %v", err)
		}
		if _, err := sm.Append(ctx, "s", client.Any, ev("E", "3"), ev("E", "4")); err != nil {
			t.Fatal(err)
		}
		// max_read_count: asking for more is invalid; the default page is capped.
		_, err = sm.Read(ctx, "s", client.ReadOptions{MaxCount: 4})
		wantCode(t, err, codes.InvalidArgument)
		_, err = sm.ReadAll(ctx, client.ReadAllOptions{MaxCount: 4})
		wantCode(t, err, codes.InvalidArgument)
		p, err := sm.Read(ctx, "s", client.ReadOptions{})
		if err != nil || len(p.Events) != 3 || p.EndOfStream || p.NextRevision != 3 {
			t.Fatalf("default page in small: %+v %v", p, err)
		}
		if p, err := al.Read(ctx, "three", client.ReadOptions{MaxCount: 4}); err != nil || len(p.Events) != 3 {
			t.Fatalf("read max_count 4 in alpha: %+v %v", p, err)
		}
		// The store's request timeout is its own, the other stores keep the default.
		if c, _ := st.Config(ctx, "alpha"); c.RequestTimeoutMs != 5000 {
			t.Fatalf("alpha's timeout changed: %+v", c)
		}
	})

	step("create again", func(t *testing.T) {
		ctx := ctxT(t)
		r, err := st.Create(ctx, "alpha", nil)
		if err != nil || !r.Existed || r.Config != alpha || r.Status.Status != wire.StatusRunning {
			t.Fatalf("create alpha again: %+v %v", r, err)
		}
		// Settings spelled out but equal to the defaults are the same settings.
		d := defaultConfig("alpha")
		r, err = st.Create(ctx, "alpha", &client.StoreSettings{ReplicationFactor: i64(1), MaxEventSize: i64(d.MaxEventSize)})
		if err != nil || !r.Existed || r.Config != alpha {
			t.Fatalf("create alpha with its effective settings: %+v %v", r, err)
		}
		r, err = st.Create(ctx, "small", smallSettings)
		if err != nil || !r.Existed || r.Config != small {
			t.Fatalf("create small again: %+v %v", r, err)
		}
		_, err = st.Create(ctx, "small", nil)
		wantCode(t, err, codes.StoreAlreadyExists)
		other := *smallSettings
		other.MaxEventSize = i64(101)
		_, err = st.Create(ctx, "small", &other)
		wantCode(t, err, codes.StoreAlreadyExists)
		_, err = st.Create(ctx, "alpha", &client.StoreSettings{RequestTimeoutMs: i64(4000)})
		wantCode(t, err, codes.StoreAlreadyExists)
		if c, err := st.Config(ctx, "small"); err != nil || *c != small {
			t.Fatalf("small's config changed: %+v %v", c, err)
		}
		_, err = in.Client.Store("small").Append(ctx, "s", client.Any, bigEvent(101))
		wantCode(t, err, codes.EventTooLarge)
		if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"alpha", "default", "small"}) {
			t.Fatalf("list %v", got)
		}
	})

	step("invalid settings", func(t *testing.T) {
		ctx := ctxT(t)
		cases := []struct {
			name string
			s    client.StoreSettings
		}{
			{"replication_factor 0", client.StoreSettings{ReplicationFactor: i64(0)}},
			{"replication_factor -1", client.StoreSettings{ReplicationFactor: i64(-1)}},
			{"replication_factor 99", client.StoreSettings{ReplicationFactor: i64(99)}},
			{"replication_factor 2 on one node", client.StoreSettings{ReplicationFactor: i64(2)}},
			{"request_timeout_ms 1", client.StoreSettings{RequestTimeoutMs: i64(1)}},
			{"request_timeout_ms 99", client.StoreSettings{RequestTimeoutMs: i64(99)}},
			{"request_timeout_ms over 5 min", client.StoreSettings{RequestTimeoutMs: i64(5*60*1000 + 1)}},
			{"max_event_size 0", client.StoreSettings{MaxEventSize: i64(0)}},
			{"max_event_size over max_request_size", client.StoreSettings{MaxEventSize: i64(int64(wire.DefaultLimits().MaxRequestSize) + 1)}},
			{"max_append_events 0", client.StoreSettings{MaxAppendEvents: i64(0)}},
			{"max_append_events 100001", client.StoreSettings{MaxAppendEvents: i64(100_001)}},
			{"max_read_count 0", client.StoreSettings{MaxReadCount: i64(0)}},
			{"one bad among good", client.StoreSettings{MaxEventSize: i64(500), ReplicationFactor: i64(1), MaxReadCount: i64(-5)}},
		}
		for _, c := range cases {
			_, err := st.Create(ctx, "badset", &c.s)
			if e := wantCodeE(err, codes.InvalidSettings); e != "" {
				t.Errorf("%s: %s", c.name, e)
			}
		}
		_, err := st.Status(ctx, "badset")
		wantCode(t, err, codes.StoreNotFound)
		if dirExists(t, storeDir(in.dir, "badset")) {
			t.Fatal("a refused store got a data directory")
		}
	})

	step("invalid ids", func(t *testing.T) {
		ctx := ctxT(t)
		bad := []string{"", strings.Repeat("a", 65), "Upper", "ABC", "a.b", ".", "*", ">", "a*", "a>", "-lead", "_lead", "a b", "é", "a/b", "a\x00"}
		for _, id := range bad {
			_, err := st.Create(ctx, id, nil)
			if e := wantCodeE(err, codes.InvalidStoreID); e != "" {
				t.Errorf("create %q: %s", id, e)
			}
			_, err = st.Status(ctx, id)
			if e := wantCodeE(err, codes.InvalidStoreID); e != "" {
				t.Errorf("status %q: %s", id, e)
			}
			_, err = st.Config(ctx, id)
			if e := wantCodeE(err, codes.InvalidStoreID); e != "" {
				t.Errorf("config %q: %s", id, e)
			}
			_, err = st.Remove(ctx, id)
			if e := wantCodeE(err, codes.InvalidStoreID); e != "" {
				t.Errorf("remove %q: %s", id, e)
			}
		}
		// The longest valid id, starting with a digit and holding '_' and '-'.
		edge := "9_edge-" + strings.Repeat("z", 64-7)
		r, err := st.Create(ctx, edge, nil)
		if err != nil || r.Status.Status != wire.StatusRunning {
			t.Fatalf("create %q: %+v %v", edge, r, err)
		}
		if _, err := in.Client.Store(edge).Append(ctx, "s", client.NoStream, ev("E", "")); err != nil {
			t.Fatal(err)
		}
		if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{edge, "alpha", "default", "small"}) {
			t.Fatalf("list %v", got)
		}
	})

	step("remove", func(t *testing.T) {
		ctx := ctxT(t)
		_, err := st.Remove(ctx, "nosuch")
		wantCode(t, err, codes.StoreNotFound)
		_, err = st.Remove(ctx, "default")
		wantCode(t, err, codes.StoreProtected)
		if s, err := st.Status(ctx, "default"); err != nil || s.Status != wire.StatusRunning {
			t.Fatalf("default after refused removal: %+v %v", s, err)
		}
		if _, err := in.Store.Append(ctx, "still-here", client.Any, ev("E", "")); err != nil {
			t.Fatal(err)
		}
		smallBefore := readAllForward(t, in.Client.Store("small"), nil, 3)

		r, err := st.Remove(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		if r.Store != "alpha" || r.Status != wire.StatusRemoving {
			t.Fatalf("remove reply %+v", r)
		}
		// Right away, while the removal is (normally) still running: removing
		// again is idempotent, creating again is refused.
		r2, err := st.Remove(ctx, "alpha")
		switch {
		case err == nil && r2.Status == wire.StatusRemoving:
			_, err = st.Create(ctx, "alpha", nil)
			if errors.Is(err, codes.ErrStoreRemoving) {
				break
			}
			if err == nil {
				t.Log("removal finished before the second create; store_removing not observed")
				if _, err := st.Remove(ctx, "alpha"); err != nil {
					t.Fatal(err)
				}
				break
			}
			t.Fatalf("create while removing: %v, want store_removing", err)
		case errors.Is(err, codes.ErrStoreNotFound):
			t.Log("removal finished before the second remove; idempotent removal not observed")
		default:
			t.Fatalf("second remove: %+v %v, want status removing", r2, err)
		}
		waitStoreGone(t, st, "alpha")
		a := in.Client.Store("alpha")
		_, err = a.Append(ctx, "s", client.Any, ev("E", ""))
		wantCode(t, err, codes.StoreNotFound)
		_, err = a.Read(ctx, "s", client.ReadOptions{})
		wantCode(t, err, codes.StoreNotFound)
		_, err = a.ReadAll(ctx, client.ReadAllOptions{})
		wantCode(t, err, codes.StoreNotFound)
		_, err = a.StreamInfo(ctx, "s")
		wantCode(t, err, codes.StoreNotFound)
		_, err = st.Config(ctx, "alpha")
		wantCode(t, err, codes.StoreNotFound)
		_, err = st.Remove(ctx, "alpha")
		wantCode(t, err, codes.StoreNotFound)
		if got := storeIDs(listStores(t, st, 100)); slices.Contains(got, "alpha") || len(got) != 3 {
			t.Fatalf("list after removal %v", got)
		}
		if dirExists(t, storeDir(in.dir, "alpha")) {
			t.Fatal("alpha's data directory is still there")
		}
		// The others are untouched.
		if got := readAllForward(t, in.Client.Store("small"), nil, 3); !slices.Equal(eventKeys(got), eventKeys(smallBefore)) {
			t.Fatalf("small changed by alpha's removal")
		}
		if _, err := in.Store.StreamInfo(ctx, "still-here"); err != nil {
			t.Fatal(err)
		}
	})

	step("re-created store is a new, empty store", func(t *testing.T) {
		ctx := ctxT(t)
		r, err := st.Create(ctx, "alpha", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Existed || r.Config.ShardID == alpha.ShardID || r.Config.Created <= alpha.Created || r.Status.Status != wire.StatusRunning {
			t.Fatalf("re-create: %+v (old config %+v)", r, alpha)
		}
		a := in.Client.Store("alpha")
		page, err := a.ReadAll(ctx, client.ReadAllOptions{})
		if err != nil || len(page.Events) != 0 || !page.EndOfStore {
			t.Fatalf("$all of the re-created store: %+v %v", page, err)
		}
		_, err = a.Read(ctx, "s", client.ReadOptions{})
		wantCode(t, err, codes.StreamNotFound)
		// Revisions, positions and event ids start afresh.
		res, err := a.Append(ctx, "s", client.NoStream, client.Event{ID: alphaEvents[0], Type: "E", Data: []byte("new")})
		if err != nil {
			t.Fatal(err)
		}
		if res.FirstRevision != 0 || res.FirstPosition != 0 || res.Duplicate {
			t.Fatalf("first append to the re-created store: %+v", res)
		}
	})

	step("the removed store's keys are gone from the engine", func(t *testing.T) {
		in.stop()
		if n := storeKeys(t, in.dir, alpha.ShardID); n != 0 {
			t.Fatalf("the removed alpha (shard %d) still has %d keys", alpha.ShardID, n)
		}
		if n := storeKeys(t, in.dir, defaultShard); n == 0 {
			t.Fatal("the default store has no keys")
		}
	})
}

// wantCodeE is wantCode for table tests: it returns what is wrong, or "".
func wantCodeE(err error, want codes.Code) string {
	var e *codes.Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("want %s, got %v", want.Name(), err)
	}
	if e.Code != want {
		return fmt.Sprintf("want %s, got %s (%v)", want.Name(), e.Code.Name(), err)
	}
	return ""
}

// MaxStores counts every store, the default one included; a store that
// exists can still be "created" again at the limit.
func TestStoreLimit(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) { c.MaxStores = 3 })
	st, ctx := in.Client.Stores(), ctxT(t)
	for _, id := range []string{"a", "b"} {
		if _, err := st.Create(ctx, id, nil); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	_, err := st.Create(ctx, "c", nil)
	wantCode(t, err, codes.StoreLimitReached)
	_, err = st.Status(ctx, "c")
	wantCode(t, err, codes.StoreNotFound)
	if r, err := st.Create(ctx, "a", nil); err != nil || !r.Existed {
		t.Fatalf("create existing store at the limit: %+v %v", r, err)
	}
	_, err = st.Create(ctx, "a", &client.StoreSettings{MaxEventSize: i64(10)})
	wantCode(t, err, codes.StoreAlreadyExists)
	// Removing one makes room again.
	if _, err := st.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitStoreGone(t, st, "b")
	if r, err := st.Create(ctx, "c", nil); err != nil || r.Status.Status != wire.StatusRunning {
		t.Fatalf("create after a removal: %+v %v", r, err)
	}
	_, err = st.Create(ctx, "d", nil)
	wantCode(t, err, codes.StoreLimitReached)
	if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"a", "c", "default"}) {
		t.Fatalf("list %v", got)
	}
}

// Two stores are two databases: same stream names, same event ids, their
// own positions and revisions, their own $all.
func TestStoresAreIsolated(t *testing.T) {
	in := startLogbook(t)
	st, ctx := in.Client.Stores(), ctxT(t)
	for _, id := range []string{"iso-a", "iso-b"} {
		if _, err := st.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	a, b, def := in.Client.Store("iso-a"), in.Client.Store("iso-b"), in.Store
	if _, err := def.Append(ctx, "orders-1", client.NoStream, ev("D", "default")); err != nil {
		t.Fatal(err)
	}
	ra, err := a.Append(ctx, "orders-1", client.NoStream, ev("A", "a0"), ev("A", "a1"), ev("A", "a2"))
	if err != nil {
		t.Fatal(err)
	}
	// The same stream name does not exist yet in b: no_stream holds there.
	rb, err := b.Append(ctx, "orders-1", client.NoStream, ev("B", "b0"), ev("B", "b1"))
	if err != nil {
		t.Fatal(err)
	}
	if ra.FirstPosition != 0 || ra.FirstRevision != 0 || rb.FirstPosition != 0 || rb.FirstRevision != 0 || rb.LastPosition != 1 {
		t.Fatalf("first appends: a %+v, b %+v; both stores must start at position 0", ra, rb)
	}
	rb2, err := b.Append(ctx, "only-b", client.NoStream, ev("B", "b2"))
	if err != nil || rb2.FirstPosition != 2 {
		t.Fatalf("b's third event: %+v %v", rb2, err)
	}

	check := func(s *client.Store, stream string, wantData ...string) {
		t.Helper()
		p, err := s.Read(ctx, stream, client.ReadOptions{})
		if err != nil {
			t.Fatalf("%s/%s: %v", s.ID(), stream, err)
		}
		var got []string
		for i, e := range p.Events {
			got = append(got, string(e.Data))
			if e.Revision != uint64(i) {
				t.Fatalf("%s/%s: revision %d at %d", s.ID(), stream, e.Revision, i)
			}
		}
		if !slices.Equal(got, wantData) {
			t.Fatalf("%s/%s holds %v, want %v", s.ID(), stream, got, wantData)
		}
	}
	check(a, "orders-1", "a0", "a1", "a2")
	check(b, "orders-1", "b0", "b1")
	check(def, "orders-1", "default")
	check(b, "only-b", "b2")
	_, err = a.StreamInfo(ctx, "only-b")
	wantCode(t, err, codes.StreamNotFound)
	_, err = a.Append(ctx, "only-b", client.StreamExists, ev("A", ""))
	wantCode(t, err, codes.WrongExpectedRevision)

	allData := func(s *client.Store) []string {
		var out []string
		for i, e := range readAllForward(t, s, nil, 100) {
			if e.Position != uint64(i) {
				t.Fatalf("%s: position %d at %d", s.ID(), e.Position, i)
			}
			out = append(out, e.Stream+":"+string(e.Data))
		}
		return out
	}
	if got := allData(a); !slices.Equal(got, []string{"orders-1:a0", "orders-1:a1", "orders-1:a2"}) {
		t.Fatalf("$all of iso-a: %v", got)
	}
	if got := allData(b); !slices.Equal(got, []string{"orders-1:b0", "orders-1:b1", "only-b:b2"}) {
		t.Fatalf("$all of iso-b: %v", got)
	}
	if got := allData(def); !slices.Equal(got, []string{"orders-1:default"}) {
		t.Fatalf("$all of default: %v", got)
	}
	la, err := a.ListStreams(ctx, client.ListOptions{})
	if err != nil || len(la.Streams) != 1 || la.Streams[0].Stream != "orders-1" || la.Streams[0].EventCount != 3 {
		t.Fatalf("streams of iso-a: %+v %v", la, err)
	}

	// Event ids are per store: an id taken in a is free in b.
	id := uuid.NewString()
	if r, err := a.Append(ctx, "ids", client.Any, client.Event{ID: id, Type: "E"}); err != nil || r.Duplicate {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err := b.Append(ctx, "other", client.Any, client.Event{ID: id, Type: "E"}); err != nil || r.Duplicate || r.FirstPosition != 3 {
		t.Fatalf("same id in another store: %+v %v", r, err)
	}
	_, err = a.Append(ctx, "other", client.Any, client.Event{ID: id, Type: "E"})
	wantCode(t, err, codes.IdempotencyConflict)

	// Deleting a stream in one store leaves its namesake in the other alone.
	if _, err := a.DeleteStream(ctx, "orders-1", client.Any); err != nil {
		t.Fatal(err)
	}
	_, err = a.Append(ctx, "orders-1", client.Any, ev("A", ""))
	wantCode(t, err, codes.StreamDeleted)
	if r, err := b.Append(ctx, "orders-1", client.Exact(1), ev("B", "b3")); err != nil || r.FirstRevision != 2 {
		t.Fatalf("append to b's orders-1 after a's was deleted: %+v %v", r, err)
	}
	check(b, "orders-1", "b0", "b1", "b3")
	if info, err := def.StreamInfo(ctx, "orders-1"); err != nil || info.Deleted || info.EventCount != 1 {
		t.Fatalf("default's orders-1: %+v %v", info, err)
	}
}

// Many stores survive a restart with their settings and events, and appends
// carry on at the right revision and position in each.
func TestManyStoresSurviveRestart(t *testing.T) {
	in := startLogbook(t)
	st, ctx := in.Client.Stores(), ctxT(t)
	const n = 25
	id := func(i int) string { return fmt.Sprintf("t%02d", i) }
	settingsOf := func(i int) *client.StoreSettings {
		if i%5 == 0 {
			return &client.StoreSettings{MaxEventSize: i64(int64(500 + i)), RequestTimeoutMs: i64(int64(1000 + i))}
		}
		return nil
	}
	// Create them five at a time, and write a few events to each.
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := st.Create(ctx, id(i), settingsOf(i)); err != nil {
				t.Errorf("create %s: %v", id(i), err)
				return
			}
			s := in.Client.Store(id(i))
			for k := range i%4 + 1 {
				expect := client.NoStream
				if k > 0 {
					expect = client.Exact(uint64(k - 1))
				}
				if _, err := s.Append(ctx, "s", expect, ev("E", fmt.Sprint(i, k))); err != nil {
					t.Errorf("append to %s: %v", id(i), err)
				}
			}
			if _, err := s.Append(ctx, fmt.Sprintf("u-%d", i), client.NoStream, ev("U", fmt.Sprint(i))); err != nil {
				t.Errorf("append to %s: %v", id(i), err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// One more, removed before the restart: it must stay removed.
	if _, err := st.Create(ctx, "gone", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Client.Store("gone").Append(ctx, "s", client.Any, ev("E", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	waitStoreGone(t, st, "gone")

	configs := map[string]client.StoreConfig{}
	events := map[string][]string{}
	for i := range n {
		c, err := st.Config(ctx, id(i))
		if err != nil {
			t.Fatal(err)
		}
		configs[id(i)] = *c
		events[id(i)] = eventKeys(readAllForward(t, in.Client.Store(id(i)), nil, 100))
		if len(events[id(i)]) != i%4+2 {
			t.Fatalf("%s holds %d events before the restart", id(i), len(events[id(i)]))
		}
	}
	defaultBefore := eventKeys(readAllForward(t, in.Store, nil, 100))

	in.restart()
	st, ctx = in.Client.Stores(), ctxT(t)

	list := listStores(t, st, 7)
	want := []string{"default"}
	for i := range n {
		want = append(want, id(i))
	}
	slices.Sort(want)
	if got := storeIDs(list); !slices.Equal(got, want) {
		t.Fatalf("stores after restart: %v", got)
	}
	// 26 stores in pages of 13: the second page is full and the last.
	p1, err := st.List(ctx, "", 13)
	if err != nil || len(p1.Stores) != 13 || p1.Next != p1.Stores[12].Store {
		t.Fatalf("first page of 13: %+v %v", p1, err)
	}
	p2, err := st.List(ctx, p1.Next, 13)
	if err != nil || len(p2.Stores) != 13 || p2.Next != "" || !slices.Equal(storeIDs(append(p1.Stores, p2.Stores...)), want) {
		t.Fatalf("second page of 13: %+v %v", p2, err)
	}
	for _, s := range list {
		if s.Status != wire.StatusRunning {
			t.Errorf("%s is %s after restart", s.Store, s.Status)
		}
	}
	for i := range n {
		s := in.Client.Store(id(i))
		c, err := st.Config(ctx, id(i))
		if err != nil || *c != configs[id(i)] {
			t.Fatalf("%s: config after restart %+v %v, before %+v", id(i), c, err, configs[id(i)])
		}
		got := eventKeys(readAllForward(t, s, nil, 100))
		if !slices.Equal(got, events[id(i)]) {
			t.Fatalf("%s: $all after restart %v, before %v", id(i), got, events[id(i)])
		}
		count := uint64(i%4 + 1)
		r, err := s.Append(ctx, "s", client.Exact(count-1), ev("E", "after"))
		if err != nil {
			t.Fatalf("%s: append after restart: %v", id(i), err)
		}
		if r.FirstRevision != count || r.FirstPosition != uint64(len(got)) {
			t.Fatalf("%s: append after restart at revision %d position %d, want %d and %d", id(i), r.FirstRevision, r.FirstPosition, count, len(got))
		}
		if i%5 == 0 {
			_, err := s.Append(ctx, "s", client.Any, bigEvent(500+i+1))
			wantCode(t, err, codes.EventTooLarge)
		}
	}
	if got := eventKeys(readAllForward(t, in.Store, nil, 100)); !slices.Equal(got, defaultBefore) {
		t.Fatalf("default store changed by the restart")
	}
	_, err = st.Status(ctx, "gone")
	wantCode(t, err, codes.StoreNotFound)
	_, err = in.Client.Store("gone").Read(ctx, "s", client.ReadOptions{})
	wantCode(t, err, codes.StoreNotFound)
	if dirExists(t, storeDir(in.dir, "gone")) {
		t.Fatal("removed store's directory is back")
	}
}

// Stores declared in configuration exist from the start with their
// settings; after a restart with other settings the registry wins and the
// difference is reported.
func TestStaticStoresFromConfig(t *testing.T) {
	declare := func(stores ...node.StaticStore) []func(*embed.Config) {
		return []func(*embed.Config){func(c *embed.Config) { c.Stores = stores }}
	}
	first := declare(
		node.StaticStore{ID: "orders", Settings: client.StoreSettings{MaxEventSize: i64(200), MaxAppendEvents: i64(5)}},
		node.StaticStore{ID: "audit"},
	)
	in := startLogbook(t, first...)
	st, ctx := in.Client.Stores(), ctxT(t)

	if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"audit", "default", "orders"}) {
		t.Fatalf("stores %v", got)
	}
	orders := wantConfig(t, st, "orders", "config", func(c *client.StoreConfig) { c.MaxEventSize, c.MaxAppendEvents = 200, 5 })
	wantConfig(t, st, "audit", "config", nil)
	for _, id := range []string{"orders", "audit", "default"} {
		// Served once Start returns; the registry's "running" may trail by a
		// reconciler pass.
		if s := waitStoreStatus(t, st, id, wire.StatusRunning); s.ConfigMismatch != "" {
			t.Fatalf("%s status %+v", id, s)
		}
	}
	o, a := in.Client.Store("orders"), in.Client.Store("audit")
	if _, err := o.Append(ctx, "s", client.NoStream, bigEvent(200)); err != nil {
		t.Fatal(err)
	}
	_, err := o.Append(ctx, "s", client.Any, bigEvent(201))
	wantCode(t, err, codes.EventTooLarge)
	_, err = o.Append(ctx, "s", client.Any, ev("E", "1"), ev("E", "2"), ev("E", "3"), ev("E", "4"), ev("E", "5"), ev("E", "6"))
	wantCode(t, err, codes.TooManyEvents)
	if _, err := a.Append(ctx, "s", client.NoStream, bigEvent(201)); err != nil {
		t.Fatal(err)
	}
	// Creating a declared store through the API with its settings: it exists.
	if r, err := st.Create(ctx, "orders", &client.StoreSettings{MaxEventSize: i64(200), MaxAppendEvents: i64(5)}); err != nil || !r.Existed || r.Config.Origin != "config" {
		t.Fatalf("create orders through the API: %+v %v", r, err)
	}

	// Restart with another max_event_size for orders and one more store.
	in.configure = declare(
		node.StaticStore{ID: "orders", Settings: client.StoreSettings{MaxEventSize: i64(300), MaxAppendEvents: i64(5)}},
		node.StaticStore{ID: "audit"},
		node.StaticStore{ID: "metrics", Settings: client.StoreSettings{MaxReadCount: i64(10)}},
	)
	in.restart()
	st, ctx = in.Client.Stores(), ctxT(t)
	o = in.Client.Store("orders")
	if c, err := st.Config(ctx, "orders"); err != nil || *c != *orders {
		t.Fatalf("orders config after restart %+v %v, want the registry's %+v", c, err, orders)
	}
	s, err := st.Status(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ConfigMismatch, "max_event_size") || !strings.Contains(s.ConfigMismatch, "300") || !strings.Contains(s.ConfigMismatch, "200") {
		t.Fatalf("orders config_mismatch %q: want it to name max_event_size, 300 configured, 200 stored", s.ConfigMismatch)
	}
	if strings.Contains(s.ConfigMismatch, "max_append_events") {
		t.Fatalf("config_mismatch names a setting that matches: %q", s.ConfigMismatch)
	}
	for _, l := range listStores(t, st, 100) {
		if (l.Store == "orders") != (l.ConfigMismatch != "") {
			t.Fatalf("list: %s has config_mismatch %q", l.Store, l.ConfigMismatch)
		}
	}
	if c, err := st.Config(ctx, "metrics"); err != nil || c.Origin != "config" || c.MaxReadCount != 10 {
		t.Fatalf("metrics config %+v %v", c, err)
	}
	// The store still works, with the registry's settings.
	if p, err := o.Read(ctx, "s", client.ReadOptions{}); err != nil || len(p.Events) != 1 {
		t.Fatalf("orders/s after restart: %+v %v", p, err)
	}
	if r, err := o.Append(ctx, "s", client.Exact(0), bigEvent(200)); err != nil || r.FirstRevision != 1 {
		t.Fatalf("append to orders after restart: %+v %v", r, err)
	}
	_, err = o.Append(ctx, "s", client.Any, bigEvent(250))
	wantCode(t, err, codes.EventTooLarge)

	// Back to the first configuration (metrics no longer declared): no
	// mismatch, and a store the configuration no longer names stays.
	in.configure = first
	in.restart()
	st, ctx = in.Client.Stores(), ctxT(t)
	if s, err := st.Status(ctx, "orders"); err != nil || s.ConfigMismatch != "" {
		t.Fatalf("orders after restart with matching config: %+v %v", s, err)
	}
	if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"audit", "default", "metrics", "orders"}) {
		t.Fatalf("stores %v", got)
	}
}

// A subscriber sees a store's lifecycle in order: created, running,
// removing, removed; per-store subscriptions see only their store.
func TestStoreLifecycleEvents(t *testing.T) {
	in := startLogbook(t)
	st, ctx := in.Client.Stores(), ctxT(t)
	// The default store's own "running" may still be on its way.
	waitStoreStatus(t, st, "default", wire.StatusRunning)

	var mu sync.Mutex
	var all, two []client.StoreEvent
	subAll, err := st.SubscribeEvents("", func(e client.StoreEvent) { mu.Lock(); all = append(all, e); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer subAll.Unsubscribe()
	subTwo, err := st.SubscribeEvents("ev-two", func(e client.StoreEvent) { mu.Lock(); two = append(two, e); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer subTwo.Unsubscribe()
	// The subjects, seen by a plain NATS subscriber.
	raw := make(chan *nats.Msg, 64)
	subRaw, err := in.Client.Conn().ChanSubscribe("stores.events.ev-one.*", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer subRaw.Unsubscribe()
	if err := in.Client.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	if _, err := st.Create(ctx, "ev-one", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, "ev-two", nil); err != nil {
		t.Fatal(err)
	}
	// Neither a create of an existing store nor refused requests announce anything.
	if r, err := st.Create(ctx, "ev-one", nil); err != nil || !r.Existed {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = st.Remove(ctx, "default")
	wantCode(t, err, codes.StoreProtected)
	_, err = st.Create(ctx, "ev-one", &client.StoreSettings{MaxEventSize: i64(5)})
	wantCode(t, err, codes.StoreAlreadyExists)
	if _, err := st.Remove(ctx, "ev-one"); err != nil {
		t.Fatal(err)
	}
	eventsOf := func(store string) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, e := range all {
			if e.Store == store {
				out = append(out, e.Kind+":"+e.Previous+">"+e.Status)
			}
		}
		return out
	}
	want := []string{"created:>creating", "status_changed:creating>running", "status_changed:running>removing", "removed:removing>removed"}
	deadline := time.Now().Add(20 * time.Second)
	for len(eventsOf("ev-one")) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything extra would arrive by now
	if got := eventsOf("ev-one"); !slices.Equal(got, want) {
		t.Fatalf("events of ev-one:\n got %v\nwant %v", got, want)
	}
	if got := eventsOf("ev-two"); !slices.Equal(got, want[:2]) {
		t.Fatalf("events of ev-two: %v", got)
	}
	mu.Lock()
	for i, e := range all {
		if e.Timestamp <= 0 || (i > 0 && all[i-1].Store == e.Store && e.Timestamp < all[i-1].Timestamp) {
			t.Errorf("event %d timestamp %d (previous %d)", i, e.Timestamp, all[max(i-1, 0)].Timestamp)
		}
	}
	if len(all) != 6 {
		t.Errorf("%d events in all, want 6: %+v", len(all), all)
	}
	var twoGot []string
	for _, e := range two {
		twoGot = append(twoGot, e.Store+":"+e.Kind+":"+e.Status)
	}
	mu.Unlock()
	if !slices.Equal(twoGot, []string{"ev-two:created:creating", "ev-two:status_changed:running"}) {
		t.Fatalf("per-store subscription of ev-two got %v", twoGot)
	}
	var subjects []string
	for len(raw) > 0 {
		subjects = append(subjects, (<-raw).Subject)
	}
	wantSubjects := []string{"stores.events.ev-one.created", "stores.events.ev-one.status_changed", "stores.events.ev-one.status_changed", "stores.events.ev-one.removed"}
	if !slices.Equal(subjects, wantSubjects) {
		t.Fatalf("subjects %v", subjects)
	}
}

// Lifecycle requests from a non-Go client: every bad request gets its typed
// error, and none of them changes the registry.
func TestStoresBadInput(t *testing.T) {
	in := startLogbook(t)
	cases := []errorCase{
		{"create not msgpack", "create", []byte{0xc1}, codes.MalformedRequest},
		{"create empty payload", "create", nil, codes.MalformedRequest},
		{"create json", "create", []byte(`{"store":"x"}`), codes.MalformedRequest},
		{"create array", "create", mp(t, []any{"x"}), codes.MalformedRequest},
		{"create truncated", "create", mp(t, map[string]any{"store": "xyz"})[:4], codes.MalformedRequest},
		{"create trailing bytes", "create", append(mp(t, map[string]any{"store": "x"}), 0xc0), codes.MalformedRequest},
		{"create unknown field", "create", mp(t, map[string]any{"store": "x", "shards": 3}), codes.InvalidArgument},
		{"create store wrong type", "create", mp(t, map[string]any{"store": 7}), codes.InvalidArgument},
		{"create settings wrong type", "create", mp(t, map[string]any{"store": "x", "settings": "big"}), codes.InvalidArgument},
		{"create setting wrong type", "create", mp(t, map[string]any{"store": "x", "settings": map[string]any{"max_event_size": "1k"}}), codes.InvalidArgument},
		{"create missing store", "create", mp(t, map[string]any{}), codes.InvalidStoreID},
		{"create bad store id", "create", mp(t, map[string]any{"store": "Bad.Id"}), codes.InvalidStoreID},
		{"create bad setting value", "create", mp(t, map[string]any{"store": "x", "settings": map[string]any{"replication_factor": 0}}), codes.InvalidSettings},
		{"remove not msgpack", "remove", []byte("remove it"), codes.MalformedRequest},
		{"remove unknown field", "remove", mp(t, map[string]any{"store": "x", "force": true}), codes.InvalidArgument},
		{"remove missing store", "remove", mp(t, map[string]any{}), codes.InvalidStoreID},
		{"remove default", "remove", mp(t, map[string]any{"store": "default"}), codes.StoreProtected},
		{"remove unknown store", "remove", mp(t, map[string]any{"store": "nosuch"}), codes.StoreNotFound},
		{"status malformed", "status", []byte{0x81}, codes.MalformedRequest},
		{"status unknown field", "status", mp(t, map[string]any{"store": "default", "verbose": true}), codes.InvalidArgument},
		{"status wildcard id", "status", mp(t, map[string]any{"store": "*"}), codes.InvalidStoreID},
		{"status unknown store", "status", mp(t, map[string]any{"store": "nosuch"}), codes.StoreNotFound},
		{"config unknown store", "config", mp(t, map[string]any{"store": "nosuch"}), codes.StoreNotFound},
		{"config bad id", "config", mp(t, map[string]any{"store": ">"}), codes.InvalidStoreID},
		{"list malformed", "list", []byte{0x92, 0x01}, codes.MalformedRequest},
		{"list limit 0", "list", mp(t, map[string]any{"limit": 0}), codes.InvalidArgument},
		{"list limit too big", "list", mp(t, map[string]any{"limit": 1_000_000}), codes.InvalidArgument},
		{"list bad after", "list", mp(t, map[string]any{"after": "Not.An.Id"}), codes.InvalidArgument},
		{"list unknown field", "list", mp(t, map[string]any{"prefix": "a"}), codes.InvalidArgument},
		{"unknown operation", "frobnicate", mp(t, map[string]any{"store": "x"}), codes.UnknownOperation},
		{"unknown operation events", "events", mp(t, map[string]any{}), codes.UnknownOperation},
	}
	checkErrorCases(t, in, "stores.", cases)
	// Nothing was created; the registry still answers well-formed requests.
	msg, err := rawRequest(t, in, "stores.list", mp(t, map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	var l wire.ListStoresReply
	if e := wire.ErrorFromMsg(msg); e != nil {
		t.Fatal(e)
	}
	if err := wire.UnmarshalReply(msg.Data, &l); err != nil || !slices.Equal(storeIDs(l.Stores), []string{"default"}) {
		t.Fatalf("stores after bad requests: %+v %v", l, err)
	}
	msg, err = rawRequest(t, in, "stores.create", mp(t, map[string]any{"store": "raw-ok", "settings": map[string]any{"max_event_size": 64}}))
	if err != nil {
		t.Fatal(err)
	}
	var cr wire.CreateStoreReply
	if e := wire.ErrorFromMsg(msg); e != nil {
		t.Fatal(e)
	}
	if err := wire.UnmarshalReply(msg.Data, &cr); err != nil || cr.Config.MaxEventSize != 64 || cr.Status.Status != wire.StatusRunning {
		t.Fatalf("raw create: %+v %v", cr, err)
	}
}

// Create answers once the store serves, so that a client may append right
// away; that must hold however many stores the node already has.
func TestNewStoresServePromptlyAmongMany(t *testing.T) {
	in := startLogbook(t)
	st := in.Client.Stores()
	const n = 40
	id := func(i int) string { return fmt.Sprintf("m%02d", i) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r, err := st.Create(ctxT(t), id(i), nil); err != nil || r.Status.Status != wire.StatusRunning {
				t.Errorf("create %s: %+v %v", id(i), r, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every create has answered "running": every store serves now.
	latency := make([]time.Duration, n)
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			if _, err := in.Client.Store(id(i)).Append(ctxT(t), "s", client.NoStream, ev("E", "")); err != nil {
				t.Errorf("append to %s: %v", id(i), err)
			}
			latency[i] = time.Since(start)
		})
	}
	wg.Wait()
	slowest := slices.Max(latency)
	if slowest > 2*time.Second {
		t.Fatalf("the first append to a store whose create answered took up to %v (store %s)", slowest, id(slices.Index(latency, slowest)))
	}
}

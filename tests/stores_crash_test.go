package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// waitKilled waits for a process that is to kill itself and checks that it
// died of SIGKILL.
func waitKilled(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not die at its failpoint within 30s")
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("exit status %v, want death by SIGKILL", p.err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("exit status %v, want death by SIGKILL", p.err)
	}
}

// A crash after a store entered the registry, before its replica started:
// after a restart the reconciler starts it, it becomes running with the
// settings it was created with, and it serves.
func TestStoreCreateCrashRecovers(t *testing.T) {
	site := newProcSite(t)
	p := site.start(withEnv("LOGBOOK_FAILPOINT=create-before-start"))
	c := site.connect(client.WithoutRetry(), client.WithTimeout(10*time.Second), client.WithNATSOptions(nats.NoReconnect()))
	ctx := ctxT(t)
	def := c.Store("default")
	for i := range 5 {
		if _, err := def.Append(ctx, "keep", client.Any, ev("E", string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	defaultBefore := eventKeys(readAllForwardCtx(t, ctx, def))
	defConfig, err := c.Stores().Config(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}

	settings := &client.StoreSettings{MaxEventSize: i64(300), MaxReadCount: i64(50)}
	r, err := c.Stores().Create(ctx, "fresh", settings)
	if err == nil {
		t.Fatalf("create answered %+v although the process was to die before starting the store", r)
	}
	t.Logf("create during the crash: %v", err)
	waitKilled(t, p)
	// The default store's keys may not be there: the engine's writes are not
	// fsynced (the Raft log is, and replays them at the restart).
	if shards := engineShards(t, site.dir); len(shards) > 1 || len(shards) == 1 && shards[0] != defConfig.ShardID {
		t.Fatalf("the engine holds shards %v, want at most the default store's %d: the store's replica applied before the failpoint", shards, defConfig.ShardID)
	}

	site.start()
	c = site.connect()
	st, ctx := c.Stores(), ctxT(t)
	s := waitStoreStatus(t, st, "fresh", wire.StatusRunning)
	if !slices.Equal(s.Replicas, []uint64{1}) {
		t.Fatalf("status %+v", s)
	}
	cfg := wantConfig(t, st, "fresh", "api", func(c *client.StoreConfig) { c.MaxEventSize, c.MaxReadCount = 300, 50 })
	// Creating it again now is the same store.
	if r, err := st.Create(ctx, "fresh", settings); err != nil || !r.Existed || r.Config != *cfg {
		t.Fatalf("create again after recovery: %+v %v", r, err)
	}
	f := c.Store("fresh")
	a, err := f.Append(ctx, "s", client.NoStream, ev("E", "1"), ev("E", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if a.FirstRevision != 0 || a.FirstPosition != 0 {
		t.Fatalf("first append to the recovered store: %+v", a)
	}
	_, err = f.Append(ctx, "s", client.Any, bigEvent(301))
	wantCode(t, err, codes.EventTooLarge)
	if p, err := f.Read(ctx, "s", client.ReadOptions{}); err != nil || len(p.Events) != 2 {
		t.Fatalf("read %+v %v", p, err)
	}
	if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"default", "fresh"}) {
		t.Fatalf("stores %v", got)
	}
	if got := eventKeys(readAllForwardCtx(t, ctx, c.Store("default"))); !slices.Equal(got, defaultBefore) {
		t.Fatalf("default store changed: %d events, had %d", len(got), len(defaultBefore))
	}
}

// A crash after a replica's data was deleted, before the removal was
// reported: after a restart the reconciler finishes the removal; the store is
// gone from the registry and from disk, and nothing else was touched.
func TestStoreRemoveCrashRecovers(t *testing.T) {
	site := newProcSite(t)
	p := site.start(withEnv("LOGBOOK_FAILPOINT=remove-before-report"))
	c := site.connect(client.WithoutRetry(), client.WithTimeout(10*time.Second), client.WithNATSOptions(nats.NoReconnect()))
	st, ctx := c.Stores(), ctxT(t)
	for _, id := range []string{"doomed", "keeper"} {
		if _, err := st.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"doomed", "keeper", "default"} {
		s := c.Store(id)
		for i := range 4 {
			if _, err := s.Append(ctx, "s", client.Any, ev("E", id+string(rune('0'+i)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	keeperBefore := eventKeys(readAllForwardCtx(t, ctx, c.Store("keeper")))
	defaultBefore := eventKeys(readAllForwardCtx(t, ctx, c.Store("default")))
	doomed, err := st.Config(ctx, "doomed")
	if err != nil {
		t.Fatal(err)
	}

	// The reply may or may not get out before the process kills itself.
	r, err := st.Remove(ctx, "doomed")
	t.Logf("remove during the crash: %+v %v", r, err)
	if err == nil && r.Status != wire.StatusRemoving {
		t.Fatalf("remove reply %+v", r)
	}
	waitKilled(t, p)

	p = site.start()
	c = site.connect()
	st, ctx = c.Stores(), ctxT(t)
	waitStoreGone(t, st, "doomed")
	if got := storeIDs(listStores(t, st, 100)); !slices.Equal(got, []string{"default", "keeper"}) {
		t.Fatalf("stores after recovery %v", got)
	}
	d := c.Store("doomed")
	_, err = d.Read(ctx, "s", client.ReadOptions{})
	wantCode(t, err, codes.StoreNotFound)
	_, err = d.Append(ctx, "s", client.Any, ev("E", ""))
	wantCode(t, err, codes.StoreNotFound)
	// Nothing else was touched.
	if got := eventKeys(readAllForwardCtx(t, ctx, c.Store("keeper"))); !slices.Equal(got, keeperBefore) {
		t.Fatalf("keeper changed: %v, had %v", got, keeperBefore)
	}
	if got := eventKeys(readAllForwardCtx(t, ctx, c.Store("default"))); !slices.Equal(got, defaultBefore) {
		t.Fatalf("default changed: %v, had %v", got, defaultBefore)
	}
	if a, err := c.Store("keeper").Append(ctx, "s", client.Exact(3), ev("E", "after")); err != nil || a.FirstRevision != 4 || a.FirstPosition != 4 {
		t.Fatalf("append to keeper after recovery: %+v %v", a, err)
	}
	// The id is free again, for a new and empty store.
	if r, err := st.Create(ctx, "doomed", nil); err != nil || r.Existed {
		t.Fatalf("re-create: %+v %v", r, err)
	}
	if page, err := d.ReadAll(ctx, client.ReadAllOptions{}); err != nil || len(page.Events) != 0 {
		t.Fatalf("re-created store: %+v %v", page, err)
	}
	if a, err := d.Append(ctx, "s", client.NoStream, ev("E", "new")); err != nil || a.FirstPosition != 0 {
		t.Fatalf("append to re-created store: %+v %v", a, err)
	}
	// The first doomed's keys are gone from the node's engine; the others'
	// are there.
	keeper, err := st.Config(ctx, "keeper")
	if err != nil {
		t.Fatal(err)
	}
	// A graceful stop: after a kill -9 the engine may lack the last
	// (unsynced) writes, which the Raft log replays at the next start.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not stop within 30s of SIGTERM")
	}
	if n := storeKeys(t, site.dir, doomed.ShardID); n != 0 {
		t.Fatalf("the removed doomed (shard %d) still has %d keys", doomed.ShardID, n)
	}
	if n := storeKeys(t, site.dir, keeper.ShardID); n == 0 {
		t.Fatal("keeper has no keys")
	}
}

// The logbook command declares stores from -config and -stores and bounds
// them with -max-stores; a bad config file stops it before it starts.
func TestBinaryDeclaresStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	confDir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(confDir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, bad := range []struct{ name, content, want string }{
		{"bad-id.json", `{"stores":[{"id":"Orders"}]}`, "store id"},
		{"unknown-field.json", `{"stores":[{"id":"orders","settings":{"shards":3}}]}`, "unknown field"},
		{"twice.json", `{"stores":[{"id":"orders"},{"id":"orders"}]}`, "declared twice"},
	} {
		cmd := exec.Command(logbookBinary(t), "-data", t.TempDir(), "-nats-port", "-1", "-raft-addr", freeAddr(t), "-config", write(bad.name, bad.content))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), bad.want) {
			t.Fatalf("%s: exit %v, output %q; want exit 1 mentioning %q", bad.name, err, out, bad.want)
		}
	}

	conf := write("logbook.json", `{"stores":[{"id":"orders","settings":{"max_event_size":300,"request_timeout_ms":2500}},{"id":"audit"}]}`)
	natsAddr, raftAddr := freeAddr(t), freeAddr(t)
	startProc(t, t.TempDir(), natsAddr, raftAddr, withArgs("-config", conf, "-stores", "audit, metrics", "-max-stores", "5"))
	c := connectProc(t, natsAddr)
	st, ctx := c.Stores(), ctxT(t)
	list := listStores(t, st, 100)
	if got := storeIDs(list); !slices.Equal(got, []string{"audit", "default", "metrics", "orders"}) {
		t.Fatalf("stores %v", got)
	}
	for _, id := range []string{"audit", "metrics", "orders"} {
		var adjust func(*client.StoreConfig)
		if id == "orders" {
			adjust = func(c *client.StoreConfig) { c.MaxEventSize, c.RequestTimeoutMs = 300, 2500 }
		}
		wantConfig(t, st, id, "config", adjust)
	}
	_, err := c.Store("orders").Append(ctx, "s", client.Any, bigEvent(301))
	wantCode(t, err, codes.EventTooLarge)
	if _, err := c.Store("metrics").Append(ctx, "s", client.Any, bigEvent(301)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, "x1", nil); err != nil {
		t.Fatal(err)
	}
	_, err = st.Create(ctx, "x2", nil)
	wantCode(t, err, codes.StoreLimitReached)
}

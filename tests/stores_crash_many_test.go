package tests

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// kill -9 in the middle of a burst of creates and removes, with 50 stores
// holding data in the node's one engine: after a restart every store is
// either whole or gone (an acknowledged create is there, an acknowledged
// removal is gone), the registry and the engine agree (a removed store's
// range is empty, no range belongs to a store the registry lacks), every
// store that was not removed has exactly its data, and new creates work.
// Twice: the second crash hits a node that recovered from the first.
func TestStoresBurstCrashRecovers(t *testing.T) {
	site := newProcSite(t)
	p := site.start()
	c := site.connect()
	st, ctx := c.Stores(), ctxT(t)
	const stores = 50
	want := map[string][]string{} // store -> its events, for every store that must keep them
	shards := map[string]uint64{} // every store ever created -> its shard
	for i := range stores {
		id := fmt.Sprintf("old-%02d", i)
		r, err := st.Create(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		shards[id] = r.Config.ShardID
		s := c.Store(id)
		for j := range 3 {
			if _, err := s.Append(ctx, fmt.Sprintf("s%d", j%2), client.Any, ev("E", fmt.Sprintf("%s-%d", id, j))); err != nil {
				t.Fatal(err)
			}
		}
		want[id] = eventKeys(readAllForwardCtx(t, ctx, s))
	}
	if _, err := c.Store("default").Append(ctx, "d", client.Any, ev("E", "default")); err != nil {
		t.Fatal(err)
	}
	want["default"] = eventKeys(readAllForwardCtx(t, ctx, c.Store("default")))

	removed := map[string]bool{} // stores whose removal was acknowledged: must be gone
	for round := range 2 {
		// The burst: creates of new stores and removals of old ones, from
		// four clients at once; the process is killed once eight have been
		// answered, with more in flight.
		bc := site.connect(client.WithoutRetry(), client.WithTimeout(5*time.Second), client.WithNATSOptions(nats.NoReconnect()))
		bst := bc.Stores()
		type op struct {
			id     string
			create bool
		}
		ops := make(chan op, 64)
		for i := range 16 {
			ops <- op{id: fmt.Sprintf("new-%d-%02d", round, i), create: true}
			if i < 8 {
				ops <- op{id: fmt.Sprintf("old-%02d", round*8+i)}
			}
		}
		close(ops)
		var (
			mu       sync.Mutex
			created  = map[string]uint64{} // acknowledged creates -> shard
			tried    []string              // every store a removal or create was sent for
			answered atomic.Int32
			killOnce sync.Once
			wg       sync.WaitGroup
		)
		kill := func() { killOnce.Do(func() { p.cmd.Process.Signal(syscall.SIGKILL) }) }
		for range 4 {
			wg.Go(func() {
				for o := range ops {
					mu.Lock()
					tried = append(tried, o.id)
					mu.Unlock()
					if o.create {
						r, err := bst.Create(ctx, o.id, nil)
						if err == nil {
							mu.Lock()
							created[o.id] = r.Config.ShardID
							shards[o.id] = r.Config.ShardID
							mu.Unlock()
						}
					} else if _, err := bst.Remove(ctx, o.id); err == nil {
						mu.Lock()
						removed[o.id] = true
						mu.Unlock()
					}
					if answered.Add(1) == 8 {
						kill()
					}
				}
			})
		}
		wg.Wait()
		kill() // the burst may have been answered whole first
		waitKilled(t, p)
		t.Logf("round %d: %d answered, %d creates and %d removals acknowledged; the process: %v", round, answered.Load(), len(created), len(removed), p.err)

		p = site.start()
		c = site.connect()
		st, ctx = c.Stores(), ctxT(t)
		// Every store settles: running, or gone.
		var list []client.StoreStatus
		poll(t, 30*time.Second, 50*time.Millisecond, func() error {
			list = listStores(t, st, 100)
			for _, s := range list {
				if s.Status != wire.StatusRunning {
					return fmt.Errorf("store %s is %s", s.Store, s.Status)
				}
			}
			return nil
		})
		ids := storeIDs(list)
		for id := range removed {
			if slices.Contains(ids, id) {
				t.Fatalf("round %d: %s was removed (acknowledged) but is listed", round, id)
			}
			delete(want, id)
		}
		for id := range created {
			if !slices.Contains(ids, id) {
				t.Fatalf("round %d: %s was created (acknowledged) but is not listed: %v", round, id, ids)
			}
		}
		for _, id := range tried {
			if !slices.Contains(ids, id) {
				delete(want, id) // removed without an answer, or never created
				continue
			}
			if _, ok := want[id]; !ok {
				want[id] = nil // a new store, created without data
			}
			if _, ok := shards[id]; !ok { // created without an answer
				cfg, err := st.Config(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				shards[id] = cfg.ShardID
			}
		}
		// Every listed store holds exactly its data and takes appends; no
		// store is listed that should not be.
		for _, id := range ids {
			w, ok := want[id]
			if !ok {
				t.Fatalf("round %d: store %s is listed but was never created or was removed", round, id)
			}
			got := eventKeys(readAllForwardCtx(t, ctx, c.Store(id)))
			if !slices.Equal(got, w) {
				t.Fatalf("round %d: store %s has %d events, want %d: %v", round, id, len(got), len(w), got)
			}
		}
		if len(ids) != len(want) {
			t.Fatalf("round %d: %d stores listed, want %d", round, len(ids), len(want))
		}
	}

	// New stores can be created, and written, after the crashes.
	for i := range 3 {
		id := fmt.Sprintf("after-%d", i)
		r, err := st.Create(ctx, id, nil)
		if err != nil || r.Existed {
			t.Fatalf("create %s after the crashes: %+v %v", id, r, err)
		}
		shards[id] = r.Config.ShardID
		if a, err := c.Store(id).Append(ctx, "s", client.NoStream, ev("E", id)); err != nil || a.FirstPosition != 0 {
			t.Fatalf("append to %s: %+v %v", id, a, err)
		}
		want[id] = eventKeys(readAllForwardCtx(t, ctx, c.Store(id)))
	}
	for id := range removed {
		_, err := c.Store(id).Read(ctx, "s0", client.ReadOptions{})
		if !errors.Is(err, codes.ErrStoreNotFound) {
			t.Fatalf("read of removed store %s: %v, want store_not_found", id, err)
		}
	}
	list := listStores(t, st, 100)
	live := map[uint64]string{}
	for _, s := range list {
		cfg, err := st.Config(ctx, s.Store)
		if err != nil {
			t.Fatal(err)
		}
		live[cfg.ShardID] = s.Store
	}

	// The engine agrees with the registry (a graceful stop first: after a
	// kill -9 the engine may lack unsynced writes that the Raft log replays).
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not stop within 30s of SIGTERM")
	}
	for _, shard := range engineShards(t, site.dir) {
		if _, ok := live[shard]; !ok {
			t.Fatalf("the engine holds shard %d, which is no store's (live: %v)", shard, live)
		}
	}
	for id, shard := range shards {
		n := storeKeys(t, site.dir, shard)
		_, isLive := live[shard]
		switch {
		case !isLive && n != 0:
			t.Fatalf("store %s (shard %d) is gone but its range holds %d keys", id, shard, n)
		case isLive && len(want[id]) > 0 && n == 0:
			t.Fatalf("store %s (shard %d) has events but no keys in the engine", id, shard)
		}
	}
}

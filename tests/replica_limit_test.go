package tests

import (
	"sync"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
)

// A storenode takes at most MaxReplicas store replicas (the default store
// counts): beyond, stores.create answers replica_limit_reached, creates
// nothing, and the stores there keep serving. Concurrent creates at the
// limit do not overshoot it together.
func TestReplicaLimit(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) { c.MaxReplicas = 4 })
	st, ctx := in.Client.Stores(), ctxT(t)
	if _, err := st.Create(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	// Five creates race for the two replicas left.
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Create(ctx, string(rune('p'+i)), nil)
		}()
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if err == nil {
			created++
			continue
		}
		if msg := wantCodeE(err, codes.ReplicaLimitReached); msg != "" {
			t.Fatalf("create %d: %s", i, msg)
		}
	}
	if created != 2 {
		t.Fatalf("%d of the racing creates succeeded, want 2 (the limit is 4 replicas)", created)
	}
	stores := listStores(t, st, 100)
	if len(stores) != 4 {
		t.Fatalf("stores after the limit: %v", storeIDs(stores))
	}
	// Refused creates left nothing behind, and a store that exists can be
	// "created" again at the limit.
	if r, err := st.Create(ctx, "a", nil); err != nil || !r.Existed {
		t.Fatalf("create an existing store at the limit: %+v %v", r, err)
	}
	// Everything there keeps serving.
	for _, s := range stores {
		if _, err := in.Client.Store(s.Store).Append(ctx, "s", client.Any, ev("E", "x")); err != nil {
			t.Fatalf("append to %s at the limit: %v", s.Store, err)
		}
	}
	// Removing one makes room again.
	if _, err := st.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitStoreGone(t, st, "a")
	if r, err := st.Create(ctx, "z", nil); err != nil || r.Status.Status != wire.StatusRunning {
		t.Fatalf("create after a removal: %+v %v", r, err)
	}
	_, err := st.Create(ctx, "y", nil)
	wantCode(t, err, codes.ReplicaLimitReached)
}

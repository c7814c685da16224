package tests

import (
	"testing"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

func withID(e client.Event) client.Event { e.ID = uuid.NewString(); return e }

func TestIdempotentRetry(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store
	a, b := withID(ev("A", "1")), withID(ev("B", "2"))
	first, err := s.Append(ctx, "cart-1", client.NoStream, a, b)
	if err != nil {
		t.Fatal(err)
	}
	s.Append(ctx, "cart-1", client.Any, ev("C", "3"))

	// The same append again (as after a timeout) — even with an expected
	// revision that would now fail — returns the original result.
	again, err := s.Append(ctx, "cart-1", client.NoStream, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.FirstRevision != first.FirstRevision || again.LastRevision != first.LastRevision ||
		again.FirstPosition != first.FirstPosition || again.LastPosition != first.LastPosition || again.Timestamp != first.Timestamp {
		t.Fatalf("retry: %+v, original %+v", again, first)
	}
	// Ids that match only partly, in another order, or in another stream.
	_, err = s.Append(ctx, "cart-1", client.Any, a, withID(ev("D", "4")))
	wantCode(t, err, codes.IdempotencyConflict)
	_, err = s.Append(ctx, "cart-1", client.Any, b, a)
	wantCode(t, err, codes.IdempotencyConflict)
	_, err = s.Append(ctx, "cart-2", client.Any, a, b)
	wantCode(t, err, codes.IdempotencyConflict)
	// Events that were all written before, consecutively and in this order,
	// to this stream, are answered from what is stored: a run of the
	// original append is reported where it lies.
	if r, err := s.Append(ctx, "cart-1", client.Any, b); err != nil || !r.Duplicate || r.FirstRevision != 1 || r.LastRevision != 1 {
		t.Fatalf("retrying a suffix: %+v %v", r, err)
	}

	// Nothing was written twice.
	info, err := s.StreamInfo(ctx, "cart-1")
	if err != nil {
		t.Fatal(err)
	}
	if info.EventCount != 3 || info.LastRevision != 2 {
		t.Fatalf("stream info %+v", info)
	}
	if _, err := s.StreamInfo(ctx, "cart-2"); err == nil {
		t.Fatal("cart-2 exists after a rejected append")
	}
	// Ids are case-insensitive on input and stored in canonical lower case.
	up := withID(ev("E", "5"))
	lower := up.ID
	up.ID = uppercase(up.ID)
	if _, err := s.Append(ctx, "cart-3", client.Any, up); err != nil {
		t.Fatal(err)
	}
	up.ID = lower
	if r, err := s.Append(ctx, "cart-3", client.Any, up); err != nil || !r.Duplicate {
		t.Fatalf("retry with lower-case id: %+v %v", r, err)
	}
}

func uppercase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Two copies of the same append in flight at once (a retry racing the
// original) still write once.
func TestIdempotentConcurrentDuplicates(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	events := []client.Event{withID(ev("A", "1")), withID(ev("B", "2"))}
	results := make(chan *client.AppendResult, 16)
	for range 16 {
		go func() {
			r, err := in.Client.Store("default").Append(ctx, "dup", client.Any, events...)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	dups := 0
	for range 16 {
		r := <-results
		if r != nil && r.Duplicate {
			dups++
		}
		if r != nil && (r.FirstRevision != 0 || r.LastRevision != 1) {
			t.Fatalf("result %+v", r)
		}
	}
	if dups != 15 {
		t.Fatalf("%d duplicates, want 15", dups)
	}
}

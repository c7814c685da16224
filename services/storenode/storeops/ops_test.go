package storeops

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/metrics"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// The leader serves exactly the operations the protocol lists: every
// operation of wire.StoreOps has its entry in the table, and the table has
// none other.
func TestTableServesEveryStoreOperation(t *testing.T) {
	want := wire.StoreOpNames()
	got := slices.Sorted(maps.Keys(table))
	if !slices.Equal(got, want) {
		t.Fatalf("the table serves %q; wire.StoreOps lists %q", got, want)
	}
	for op, h := range table {
		if h == nil {
			t.Errorf("%s has a nil handler", op)
		}
	}
}

// An operation the table lacks is answered unknown_operation, with the
// name echoed bounded.
func TestUnknownOperation(t *testing.T) {
	long := string(make([]byte, 1<<20))
	for _, op := range []string{"nope", long} {
		_, err := New(nil, nil, nil).Handle(context.Background(), nil, op, nil)
		ce := codes.As(err)
		if ce == nil || ce.Code != codes.UnknownOperation {
			t.Fatalf("got %v, want unknown_operation", err)
		}
		if len(ce.Message) > 4096 {
			t.Fatalf("the message echoes %d bytes", len(ce.Message))
		}
	}
}

// fakeStore answers every query with answer and records it.
type fakeStore struct {
	answer any
	asked  any
}

func (f *fakeStore) Spec() replica.Spec {
	return replica.Spec{ID: "s", Limits: wire.Limits{}.WithDefaults()}
}
func (f *fakeStore) Metrics() *metrics.Store { return metrics.New(0).Store("s") }
func (f *fakeStore) Follows() bool           { return false }
func (f *fakeStore) Submit(context.Context, sm.Command, int) (sm.Result, error) {
	return sm.Result{}, codes.New(codes.Unavailable, "no proposals here")
}
func (f *fakeStore) Read(_ context.Context, q any) (any, error) { f.asked = q; return f.answer, nil }
func (f *fakeStore) Restoring() bool                            { return false }
func (f *fakeStore) QuotaSet() bool                             { return false }
func (f *fakeStore) Touch()                                     {}

// A read decodes the request into the state machine's query and converts
// its answer; an answer of another type is internal, not a panic.
func TestReadAsksAndConverts(t *testing.T) {
	req, _ := wire.Marshal(map[string]any{"stream": "s-1", "max_count": 2})
	f := &fakeStore{answer: &sm.StreamPage{NextRevision: 7, EndOfStream: true}}
	v, err := New(nil, nil, nil).Handle(context.Background(), f, subjects.OpRead, req)
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := f.asked.(sm.ReadStream); !ok || q.Stream != "s-1" || q.Count != 2 || q.Backward {
		t.Fatalf("asked %#v", f.asked)
	}
	if r, ok := v.(*wire.ReadReply); !ok || r.NextRevision != 7 || !r.EndOfStream {
		t.Fatalf("answered %#v", v)
	}
	f.answer = &sm.AllPage{}
	if _, err := New(nil, nil, nil).Handle(context.Background(), f, subjects.OpRead, req); codes.As(err) == nil || codes.As(err).Code != codes.Internal {
		t.Fatalf("got %v, want internal", err)
	}
}

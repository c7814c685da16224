package storeops

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
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

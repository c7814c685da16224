package tests

import (
	"fmt"
	"sync"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
)

// A clean restart keeps every event where it was, and positions and
// revisions carry on from there.
func TestRestartKeepsEveryEvent(t *testing.T) {
	in := startLogbook(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := in.Store.Append(ctxT(t), fmt.Sprintf("s%d-%d", w, i%7), client.Any, ev("E", fmt.Sprint(w, i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	before := readAllForward(t, in.Store, nil, 500)
	in.restart()
	after := readAllForward(t, in.Store, nil, 500)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("restart changed $all: %d events before, %d after", len(before), len(after))
	}
	r, err := in.Store.Append(ctxT(t), "s0-0", client.Any, ev("E", "after restart"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := in.Store.StreamInfo(ctxT(t), "s0-0")
	if r.FirstPosition != uint64(len(before)) || r.FirstRevision != info.LastRevision || info.EventCount != 9 {
		t.Fatalf("after restart: append %+v, info %+v", r, info)
	}
	in.restart()
	if got := readAllForward(t, in.Store, nil, 500); len(got) != len(before)+1 {
		t.Fatalf("second restart: %d events", len(got))
	}
}

package tests

import (
	"fmt"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

// readAllForward pages through $all from the start.
func readAllForward(t *testing.T, s *client.Store, f *client.Filter, page int) []client.RecordedEvent {
	t.Helper()
	var out []client.RecordedEvent
	from := uint64(0)
	for i := 0; ; i++ {
		p, err := s.ReadAll(ctxT(t), client.ReadAllOptions{From: &from, MaxCount: page, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.EndOfStore {
			return out
		}
		if p.NextPosition <= from && len(p.Events) == 0 && i > 0 {
			t.Fatalf("$all paging does not advance at %d", from)
		}
		from = p.NextPosition
	}
}

func seedStreams(t *testing.T, s *client.Store) {
	t.Helper()
	ctx := ctxT(t)
	for i := range 10 {
		stream := fmt.Sprintf("order-%d", i%3)
		typ := "Placed"
		if i%2 == 1 {
			typ = "Paid"
		}
		if _, err := s.Append(ctx, stream, client.Any, ev(typ, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("user-%d", i%2), client.Any, ev("Seen", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "orderbook", client.Any, ev("Placed", "ob")); err != nil {
		t.Fatal(err)
	}
}

func TestReadStreamDirectionsAndPaging(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store
	var events []client.Event
	for i := range 25 {
		events = append(events, ev("E", fmt.Sprint(i)))
	}
	if _, err := s.Append(ctx, "log", client.NoStream, events...); err != nil {
		t.Fatal(err)
	}
	// Forward in pages of 10: 0-9, 10-19, 20-24.
	var got []uint64
	from := uint64(0)
	for {
		p, err := s.Read(ctx, "log", client.ReadOptions{From: &from, MaxCount: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			got = append(got, e.Revision)
		}
		if p.LastRevision != 24 {
			t.Fatalf("last revision %d", p.LastRevision)
		}
		if p.EndOfStream {
			break
		}
		from = p.NextRevision
	}
	if len(got) != 25 || got[0] != 0 || got[24] != 24 {
		t.Fatalf("forward pages: %v", got)
	}
	// Backward from the end without knowing it.
	p, err := s.Read(ctx, "log", client.ReadOptions{Direction: client.Backward, MaxCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 3 || p.Events[0].Revision != 24 || p.Events[2].Revision != 22 || p.NextRevision != 21 || p.EndOfStream {
		t.Fatalf("backward from end: %+v", p)
	}
	// Backward from a revision, to the start.
	p, err = s.Read(ctx, "log", client.ReadOptions{Direction: client.Backward, From: client.Revision(2), MaxCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 3 || p.Events[0].Revision != 2 || p.Events[2].Revision != 0 || !p.EndOfStream {
		t.Fatalf("backward from 2: %+v", p)
	}
	// Forward past the end: empty, end of stream, cursor unchanged.
	p, err = s.Read(ctx, "log", client.ReadOptions{From: client.Revision(30)})
	if err != nil || len(p.Events) != 0 || !p.EndOfStream || p.NextRevision != 30 {
		t.Fatalf("past the end: %+v %v", p, err)
	}
	// A missing stream.
	_, err = s.Read(ctx, "nope", client.ReadOptions{})
	wantCode(t, err, codes.StreamNotFound)
}

func TestReadAllFiltersAndDirections(t *testing.T) {
	in := startLogbook(t)
	s := in.Store
	seedStreams(t, s)
	all := readAllForward(t, s, nil, 7)
	if len(all) != 21 {
		t.Fatalf("$all has %d events", len(all))
	}
	count := func(f *client.Filter) int { return len(readAllForward(t, s, f, 2)) }
	if n := count(&client.Filter{Category: "order"}); n != 10 { // not "orderbook"
		t.Fatalf("category order: %d", n)
	}
	if n := count(&client.Filter{StreamPrefix: "order"}); n != 11 {
		t.Fatalf("prefix order: %d", n)
	}
	if n := count(&client.Filter{EventTypes: []string{"Paid"}}); n != 5 {
		t.Fatalf("type Paid: %d", n)
	}
	if n := count(&client.Filter{Category: "order", EventTypes: []string{"Placed", "Seen"}}); n != 5 {
		t.Fatalf("category+types: %d", n)
	}
	// Backward from the end, whole store.
	p, err := s.ReadAll(ctxT(t), client.ReadAllOptions{Direction: client.Backward, MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 21 || p.Events[0].Position != 20 || p.Events[20].Position != 0 || !p.EndOfStore {
		t.Fatalf("backward $all: %d events, end %v", len(p.Events), p.EndOfStore)
	}
	// Backward in pages with a filter.
	from := uint64(20)
	var got []uint64
	for {
		p, err := s.ReadAll(ctxT(t), client.ReadAllOptions{Direction: client.Backward, From: &from, MaxCount: 2, Filter: &client.Filter{StreamPrefix: "user-"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			got = append(got, e.Position)
		}
		if p.EndOfStore {
			break
		}
		from = p.NextPosition
	}
	if len(got) != 10 {
		t.Fatalf("backward filtered: %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			t.Fatalf("backward filtered not descending: %v", got)
		}
	}
}

func TestListStreamsInfoAndDelete(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store
	seedStreams(t, s)
	// Page through every stream two at a time.
	var names []string
	after := ""
	for {
		l, err := s.ListStreams(ctx, client.ListOptions{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range l.Streams {
			names = append(names, st.Stream)
		}
		if l.Next == "" {
			break
		}
		after = l.Next
	}
	want := []string{"order-0", "order-1", "order-2", "orderbook", "user-0", "user-1"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("streams %v, want %v", names, want)
	}
	l, err := s.ListStreams(ctx, client.ListOptions{Prefix: "user-"})
	if err != nil || len(l.Streams) != 2 || l.Next != "" {
		t.Fatalf("prefix user-: %+v %v", l, err)
	}
	info, err := s.StreamInfo(ctx, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if info.EventCount != 5 || info.LastRevision != 4 || info.FirstPosition >= info.LastPosition || info.Created > info.Updated || info.Created == 0 {
		t.Fatalf("info %+v", info)
	}
	// Delete with a wrong expected revision fails; with the right one it works.
	_, err = s.DeleteStream(ctx, "user-1", client.Exact(3))
	wantCode(t, err, codes.WrongExpectedRevision)
	if _, err := s.DeleteStream(ctx, "user-1", client.Exact(4)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(ctx, "user-1", client.ReadOptions{})
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.Append(ctx, "user-1", client.Any, ev("X", ""))
	wantCode(t, err, codes.StreamDeleted)
	// Deleting again (a retry after a timeout) succeeds with the same result,
	// unless the expectation could never have held.
	if r, err := s.DeleteStream(ctx, "user-1", client.Exact(4)); err != nil || r.LastRevision != 4 {
		t.Fatalf("repeated delete: %+v %v", r, err)
	}
	_, err = s.DeleteStream(ctx, "user-1", client.Exact(2))
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.DeleteStream(ctx, "user-1", client.NoStream)
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.DeleteStream(ctx, "never", client.Any)
	wantCode(t, err, codes.StreamNotFound)
	if info, err := s.StreamInfo(ctx, "user-1"); err != nil || !info.Deleted {
		t.Fatalf("deleted info %+v %v", info, err)
	}
	// Its events stay in $all: positions remain gapless.
	if all := readAllForward(t, s, nil, 50); len(all) != 21 {
		t.Fatalf("$all after delete: %d", len(all))
	}
}

func TestServerGeneratedIDs(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	r, err := rawAppend(t, in, "gen", map[string]any{"type": "T"}, map[string]any{"type": "U"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.EventIDs) != 2 {
		t.Fatalf("want generated ids, got %+v", r)
	}
	p, err := in.Store.Read(ctx, "gen", client.ReadOptions{})
	if err != nil || p.Events[0].ID != r.EventIDs[0] || p.Events[1].ID != r.EventIDs[1] {
		t.Fatalf("read %+v %v", p, err)
	}
}

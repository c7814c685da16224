package tests

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

func ev(typ, data string) client.Event { return client.Event{Type: typ, Data: []byte(data)} }

func wantCode(t *testing.T, err error, want codes.Code) *codes.Error {
	t.Helper()
	var e *codes.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s, got %v", want.Name(), err)
	}
	if e.Code != want {
		t.Fatalf("want %s, got %s (%v)", want.Name(), e.Code.Name(), err)
	}
	return e
}

func TestExpectedRevisionModes(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store

	// stream_exists and exact on a stream that does not exist: conflict, no current revision.
	_, err := s.Append(ctx, "acct-1", client.StreamExists, ev("A", "x"))
	if e := wantCode(t, err, codes.WrongExpectedRevision); e.CurrentRevision != nil {
		t.Fatalf("current revision on a missing stream: %d", *e.CurrentRevision)
	}
	_, err = s.Append(ctx, "acct-1", client.Exact(0), ev("A", "x"))
	wantCode(t, err, codes.WrongExpectedRevision)

	// no_stream creates it.
	r, err := s.Append(ctx, "acct-1", client.NoStream, ev("Opened", "1"))
	if err != nil || r.FirstRevision != 0 || r.LastRevision != 0 {
		t.Fatalf("no_stream append: %+v %v", r, err)
	}
	// no_stream again: conflict carrying the current revision 0.
	_, err = s.Append(ctx, "acct-1", client.NoStream, ev("Opened", "again"))
	if e := wantCode(t, err, codes.WrongExpectedRevision); e.CurrentRevision == nil || *e.CurrentRevision != 0 {
		t.Fatalf("want current revision 0, got %+v", e)
	}
	// stream_exists passes now.
	if r, err = s.Append(ctx, "acct-1", client.StreamExists, ev("Deposited", "2")); err != nil || r.LastRevision != 1 {
		t.Fatalf("stream_exists: %+v %v", r, err)
	}
	// exact: right revision passes, wrong one names the current revision.
	if r, err = s.Append(ctx, "acct-1", client.Exact(1), ev("Deposited", "3"), ev("Withdrawn", "4")); err != nil || r.FirstRevision != 2 || r.LastRevision != 3 {
		t.Fatalf("exact: %+v %v", r, err)
	}
	_, err = s.Append(ctx, "acct-1", client.Exact(1), ev("Deposited", "stale"))
	if e := wantCode(t, err, codes.WrongExpectedRevision); e.CurrentRevision == nil || *e.CurrentRevision != 3 {
		t.Fatalf("want current revision 3, got %+v", e)
	}
	// any always appends.
	if r, err = s.Append(ctx, "acct-1", client.Any, ev("Closed", "5")); err != nil || r.FirstRevision != 4 {
		t.Fatalf("any: %+v %v", r, err)
	}
	// Failed appends wrote nothing: exactly 5 events, revisions 0..4.
	page, err := s.Read(ctx, "acct-1", client.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "2", "3", "4", "5"}
	if len(page.Events) != len(want) {
		t.Fatalf("stream has %d events, want %d", len(page.Events), len(want))
	}
	for i, e := range page.Events {
		if string(e.Data) != want[i] || e.Revision != uint64(i) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

// Many writers race for each revision of one stream with exact expected
// revisions: exactly one wins each revision, the losers learn the winner's
// revision, and the stream ends up dense with one event per revision.
func TestConcurrentAppendersOneWinnerPerRevision(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	const writers, rounds = 8, 25
	wins := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := in.Client.Store("default")
			next := uint64(0)
			exp := client.NoStream
			for next < rounds {
				r, err := s.Append(ctx, "race", exp, ev("Tick", fmt.Sprintf("w%d-r%d", w, next)))
				if err == nil {
					wins[w] = append(wins[w], r.FirstRevision)
					next = r.LastRevision + 1
					exp = client.Exact(r.LastRevision)
					continue
				}
				var e *codes.Error
				if !errors.As(err, &e) || e.Code != codes.WrongExpectedRevision || e.CurrentRevision == nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				next = *e.CurrentRevision + 1
				exp = client.Exact(*e.CurrentRevision)
			}
		})
	}
	wg.Wait()
	owner := map[uint64]int{}
	for w, revs := range wins {
		for _, r := range revs {
			if prev, dup := owner[r]; dup {
				t.Fatalf("revision %d won by writers %d and %d", r, prev, w)
			}
			owner[r] = w
		}
	}
	page, err := in.Store.Read(ctx, "race", client.ReadOptions{MaxCount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(page.Events)) < rounds || len(page.Events) != len(owner) {
		t.Fatalf("stream has %d events, %d acknowledged wins", len(page.Events), len(owner))
	}
	for i, e := range page.Events {
		if e.Revision != uint64(i) {
			t.Fatalf("revision gap at %d: %d", i, e.Revision)
		}
		if w := owner[e.Revision]; string(e.Data) != fmt.Sprintf("w%d-r%d", w, e.Revision) {
			t.Fatalf("revision %d holds %q, acknowledged to writer %d", e.Revision, e.Data, w)
		}
	}
}

// Positions are dense and commit-ordered across streams, and every stream's
// revisions are dense, under concurrent appends to many streams.
func TestPositionsGaplessAcrossStreams(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	const writers, perWriter = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := in.Client.Store("default")
			for i := range perWriter {
				stream := fmt.Sprintf("cat%d-%d", w%3, i%5)
				if _, err := s.Append(ctx, stream, client.Any, ev("E", fmt.Sprint(w, i)), ev("F", "")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	all := readAllForward(t, in.Store, nil, 100)
	if len(all) != writers*perWriter*2 {
		t.Fatalf("$all has %d events, want %d", len(all), writers*perWriter*2)
	}
	revs := map[string]uint64{}
	for i, e := range all {
		if e.Position != uint64(i) {
			t.Fatalf("position gap: event %d has position %d", i, e.Position)
		}
		if i > 0 && e.Timestamp < all[i-1].Timestamp {
			t.Fatalf("timestamps go back at position %d", i)
		}
		if e.Revision != revs[e.Stream] {
			t.Fatalf("stream %s: revision %d, want %d", e.Stream, e.Revision, revs[e.Stream])
		}
		revs[e.Stream]++
	}
}

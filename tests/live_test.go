package tests

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// liveMsg is one live event as a raw NATS subscriber sees it.
type liveMsg struct {
	subject string
	h       *wire.LiveHeaders
	ev      client.RecordedEvent
}

// liveCollector subscribes to a live subject with a plain NATS connection of
// its own (which reconnects across restarts) and decodes every message.
type liveCollector struct {
	t   *testing.T
	mu  sync.Mutex
	got []liveMsg
	sub *nats.Subscription
	nc  *nats.Conn
}

func collectLive(t *testing.T, nc *nats.Conn, subject string) *liveCollector {
	t.Helper()
	c := &liveCollector{t: t, nc: nc}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		h, err := wire.ParseLiveHeaders(m.Header)
		if err != nil {
			t.Errorf("%s: bad headers: %v", m.Subject, err)
			return
		}
		var ev client.RecordedEvent
		if err := wire.UnmarshalReply(m.Data, &ev); err != nil {
			t.Errorf("%s: bad body: %v", m.Subject, err)
			return
		}
		c.mu.Lock()
		c.got = append(c.got, liveMsg{subject: m.Subject, h: h, ev: ev})
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c.sub = sub
	t.Cleanup(func() { sub.Unsubscribe() })
	return c
}

// wait returns the messages once there are n of them (failing after 15s),
// after a short pause that lets an unwanted extra message show up.
func (c *liveCollector) wait(n int) []liveMsg {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c.mu.Lock()
		k := len(c.got)
		c.mu.Unlock()
		if k >= n {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d live events of %d after 15s", k, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]liveMsg(nil), c.got...)
}

func connectNATS(t *testing.T, in *instance) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(in.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Every committed event is published once, in position order, on its
// subject, with its position and revision in the headers and the same body
// a read returns.
func TestLiveEventsInOrder(t *testing.T) {
	in := startLogbook(t)
	all := collectLive(t, connectNATS(t, in), subjects.EventsOfStore("default"))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				evs := []client.Event{ev("A", fmt.Sprint(w, i)), ev("B", fmt.Sprint(w, i))}
				if _, err := in.Store.Append(ctxT(t), fmt.Sprintf("w%d-%d", w, i%3), client.Any, evs...); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := all.wait(200)
	if len(got) != 200 {
		t.Fatalf("%d live events, want 200", len(got))
	}
	stored := readAllForward(t, in.Store, nil, 1000)
	epoch := got[0].h.Epoch
	for i, m := range got {
		if m.h.Position != uint64(i) || m.ev.Position != uint64(i) {
			t.Fatalf("live event %d has position %d (header %d)", i, m.ev.Position, m.h.Position)
		}
		if !reflect.DeepEqual(m.ev, stored[i]) {
			t.Fatalf("live event %d differs from the stored one:\n%+v\n%+v", i, m.ev, stored[i])
		}
		if m.h.Revision != m.ev.Revision || m.h.Epoch != epoch || m.h.EpochStart != 0 {
			t.Fatalf("live event %d: headers %+v", i, m.h)
		}
		if want := subjects.Event("default", m.ev.Stream, m.ev.Type); m.subject != want {
			t.Fatalf("live event %d on %q, want %q", i, m.subject, want)
		}
	}
}

// Wildcards select by store, category, stream and type, and the per-filter
// previous positions in the headers chain each selection without holes.
func TestLiveEventsSelection(t *testing.T) {
	in := startLogbook(t)
	if _, err := in.Client.Stores().Create(ctxT(t), "other", nil); err != nil {
		t.Fatal(err)
	}
	other := in.Client.Store("other")
	nc := connectNATS(t, in)
	byStore := collectLive(t, nc, subjects.EventsOfStore("default"))
	otherStore := collectLive(t, nc, subjects.EventsOfStore("other"))
	everyStore := collectLive(t, nc, subjects.EventsAll)
	byCat := collectLive(t, nc, subjects.EventsOfCategory("default", "order"))
	byStream := collectLive(t, nc, subjects.EventsOfStream("default", "order-2"))
	byType := collectLive(t, nc, subjects.EventsOfType("default", "Shipped"))

	plan := []struct {
		stream string
		types  []string
	}{
		{"order-1", []string{"Placed"}},
		{"user-1", []string{"Registered", "Shipped"}},
		{"order-2", []string{"Placed", "Shipped"}},
		{"order", []string{"Shipped"}},
		{"orders-1", []string{"Placed"}}, // category "orders", not "order"
		{"order-1", []string{"Shipped"}},
		{"order-2", []string{"Cancelled"}},
	}
	for _, p := range plan {
		var evs []client.Event
		for _, ty := range p.types {
			evs = append(evs, ev(ty, p.stream))
		}
		if _, err := in.Store.Append(ctxT(t), p.stream, client.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Append(ctxT(t), "order-1", client.Any, ev("Placed", "x")); err != nil {
		t.Fatal(err)
	}
	stored := readAllForward(t, in.Store, nil, 1000)
	check := func(name string, c *liveCollector, keep func(client.RecordedEvent) bool, prev func(*wire.LiveHeaders) *uint64) {
		t.Helper()
		var want []uint64
		for _, e := range stored {
			if keep(e) {
				want = append(want, e.Position)
			}
		}
		got := c.wait(len(want))
		var pos []uint64
		for i, m := range got {
			pos = append(pos, m.ev.Position)
			if prev == nil {
				continue
			}
			p := prev(m.h)
			switch {
			case i == 0 && p != nil:
				t.Errorf("%s: first event has a previous position %d", name, *p)
			case i > 0 && (p == nil || *p != got[i-1].ev.Position):
				t.Errorf("%s: event at %d has previous %v, want %d", name, m.ev.Position, p, got[i-1].ev.Position)
			}
		}
		if !reflect.DeepEqual(pos, want) {
			t.Errorf("%s: positions %v, want %v", name, pos, want)
		}
	}
	check("store", byStore, func(client.RecordedEvent) bool { return true }, nil)
	check("category", byCat, func(e client.RecordedEvent) bool { return wire.Category(e.Stream) == "order" },
		func(h *wire.LiveHeaders) *uint64 { return h.PrevCategory })
	check("stream", byStream, func(e client.RecordedEvent) bool { return e.Stream == "order-2" }, nil)
	check("type", byType, func(e client.RecordedEvent) bool { return e.Type == "Shipped" },
		func(h *wire.LiveHeaders) *uint64 { return h.PrevType })
	if got := otherStore.wait(1); len(got) != 1 || got[0].ev.Stream != "order-1" || got[0].ev.Position != 0 {
		t.Errorf("store other: %+v", got)
	}
	if got := everyStore.wait(len(stored) + 1); len(got) != len(stored)+1 {
		t.Errorf("events.>: %d events, want %d", len(got), len(stored)+1)
	}
	var revs []uint64
	for _, m := range byStream.wait(3) {
		revs = append(revs, m.h.Revision)
	}
	if !reflect.DeepEqual(revs, []uint64{0, 1, 2}) {
		t.Errorf("stream order-2: revisions %v", revs)
	}
}

// Stream names and types with characters that are not safe in a subject
// token are escaped reversibly and still selectable.
func TestLiveEventsEscapedNames(t *testing.T) {
	in := startLogbook(t)
	nc := connectNATS(t, in)
	names := []struct{ stream, typ string }{
		{"a.b-c d", "t.1"},
		{"ünï-1", "Tÿpe>"},
		{"-x", "*"},
		{"x*>~y", "~7E"},
		{"tab\u00a0nbsp-ok", "sp ace"},
		// The longest subject: a 512-byte name of 2-byte characters with no
		// '-' (so its category is the whole name) and a 256-byte type.
		{strings.Repeat("é", 256), strings.Repeat("ÿ", 128)},
	}
	var cols []*liveCollector
	for _, n := range names {
		cols = append(cols, collectLive(t, nc, subjects.EventsOfStream("default", n.stream)))
	}
	byType := collectLive(t, nc, subjects.EventsOfType("default", "*"))
	emptyCat := collectLive(t, nc, subjects.EventsOfCategory("default", ""))
	all := collectLive(t, nc, subjects.EventsOfStore("default"))
	for _, n := range names {
		if _, err := in.Store.Append(ctxT(t), n.stream, client.NoStream, ev(n.typ, n.stream)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range names {
		got := cols[i].wait(1)
		if len(got) != 1 || got[0].ev.Stream != n.stream || got[0].ev.Type != n.typ {
			t.Fatalf("stream %q: %+v", n.stream, got)
		}
		store, stream, typ, err := subjects.ParseEvent(got[0].subject)
		if err != nil || store != "default" || stream != n.stream || typ != n.typ {
			t.Fatalf("ParseEvent(%q) = %q %q %q %v", got[0].subject, store, stream, typ, err)
		}
	}
	if got := byType.wait(1); len(got) != 1 || got[0].ev.Type != "*" {
		t.Fatalf("type \"*\" selected %d events", len(got))
	}
	if got := emptyCat.wait(1); len(got) != 1 || got[0].ev.Stream != "-x" {
		t.Fatalf("the empty category selected %d events", len(got))
	}
	if got := all.wait(len(names)); len(got) != len(names) {
		t.Fatalf("%d events in the store, want %d", len(got), len(names))
	}
}

// A restart makes a new publisher: the epoch changes, positions carry on,
// and the new epoch's start tells which positions it covers.
func TestLiveEventsEpochChangesOnRestart(t *testing.T) {
	in := startLogbook(t)
	all := collectLive(t, connectNATS(t, in), subjects.EventsOfStore("default"))
	for i := range 3 {
		if _, err := in.Store.Append(ctxT(t), "order-1", client.Any, ev("A", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	before := all.wait(3)
	in.restart()
	// The subscriber's connection reconnects on its own; wait until the
	// server has its subscription again before appending.
	deadline := time.Now().Add(15 * time.Second)
	for !all.nc.IsConnected() || all.nc.Flush() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the live subscriber did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last uint64
	for i := range 3 {
		r, err := in.Store.Append(ctxT(t), "order-1", client.Any, ev("A", fmt.Sprint("after", i)))
		if err != nil {
			t.Fatal(err)
		}
		last = r.LastPosition
	}
	deadline = time.Now().Add(15 * time.Second)
	var got []liveMsg
	for {
		got = all.wait(len(before) + 1)
		if got[len(got)-1].ev.Position == last || time.Now().After(deadline) {
			break
		}
	}
	old := before[0].h.Epoch
	after := got[len(got)-3:]
	for i, m := range after {
		if m.ev.Position != 3+uint64(i) || m.h.Revision != 3+uint64(i) {
			t.Fatalf("after the restart: event at %d, revision %d; want %d", m.ev.Position, m.h.Revision, 3+i)
		}
		if m.h.Epoch == old {
			t.Fatalf("after the restart the epoch is still %s", old)
		}
		if m.h.EpochStart > m.ev.Position || m.h.Epoch != after[0].h.Epoch {
			t.Fatalf("after the restart: headers %+v", m.h)
		}
	}
}

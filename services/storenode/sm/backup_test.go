package sm

import (
	"reflect"
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// smApplier applies commands to one state machine, an entry each.
type smApplier struct {
	t   *testing.T
	s   *StateMachine
	idx uint64
}

func (a *smApplier) apply(ts int64, cmds ...Command) []Result {
	a.t.Helper()
	a.idx++
	es, err := a.s.Update([]dbsm.Entry{entry(a.t, a.idx, ts, cmds...)})
	if err != nil {
		a.t.Fatal(err)
	}
	return results(a.t, es[0])
}

func (a *smApplier) restore(ts int64, step RestoreStep) Result {
	a.t.Helper()
	aux, err := EncodeAux(&step)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.apply(ts, Command{Op: OpRestore, Aux: aux})[0]
}

// dump takes a whole backup of s in chunks of about maxBytes.
func dump(t *testing.T, s *StateMachine, maxBytes int) (wire.BackupHeader, []wire.BackupChunk) {
	t.Helper()
	v, err := s.Lookup(BackupOpen{Taken: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := v.(*Backup)
	defer b.Close()
	var chunks []wire.BackupChunk
	for {
		c, done, err := b.Next(maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.Records() > 0 {
			chunks = append(chunks, c)
		}
		if done {
			return b.Header, chunks
		}
	}
}

// sourceStore builds a store with several streams, a deleted one,
// snapshots, and two subscriptions, one with parked events.
func sourceStore(t *testing.T) *smApplier {
	s, _ := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	a := &smApplier{t: t, s: s}
	a.apply(100, appendCmd("order-1", ExpectAny, 0, 5), appendCmd("invoice-1", ExpectAny, 0, 3))
	a.apply(200, appendCmd("order-2", ExpectAny, 0, 2), appendCmd("order-1", ExpectAny, 0, 2))
	a.apply(300, saveCmd("order-1", 3, "Order", "state@3", 0), saveCmd("order-1", 6, "Order", "state@6", 0), saveCmd("invoice-1", 1, "Inv", "i", 0))
	a.apply(400, saveCmd("order-2", 1, "Order", "gone", 0))
	a.apply(500, Command{Op: OpDelete, Stream: "order-2"})
	a.apply(600,
		psubCmd(t, OpPSubCreate, "a", &PSubCreate{Def: psubDef("a", StartAtStart)}),
		psubCmd(t, OpPSubCreate, "b", &PSubCreate{Def: psubDef("b", StartAtEnd)}))
	rs := a.apply(700, psubCmd(t, OpPSubProgress, "", &PSubProgress{Name: "a", Gen: 1, Checkpoint: 6, High: 9,
		Park: []PSubParkCmd{{Position: 2, Reason: "poison", DeliveryCount: 3}, {Position: 4, Reason: "nack", DeliveryCount: 1}}}))
	if err := rs[0].Err(); err != nil {
		t.Fatal(err)
	}
	return a
}

// restoreAll restores a backup into a fresh state machine, one step per chunk.
func restoreAll(t *testing.T, h wire.BackupHeader, chunks []wire.BackupChunk) (*smApplier, Result) {
	s, _ := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	a := &smApplier{t: t, s: s}
	if r := a.restore(1000, RestoreStep{Seq: 0, Header: &h}); r.Err() != nil {
		t.Fatal(r.Err())
	}
	var n wire.BackupCounts
	for i := range chunks {
		n.Add(&chunks[i])
		if r := a.restore(1000+int64(i), RestoreStep{Seq: int64(i + 1), Chunk: &chunks[i]}); r.Err() != nil {
			return a, r
		}
	}
	return a, a.restore(2000, RestoreStep{Seq: int64(len(chunks) + 1), Counts: &n})
}

// A restored store dumps exactly as its source, whatever the chunk size:
// events (positions, revisions, ids, timestamps, payloads), streams
// (deleted ones too), snapshots, subscriptions and parked events.
func TestBackupRestoreRoundTrip(t *testing.T) {
	src := sourceStore(t)
	h, whole := dump(t, src.s, 1<<30)
	if h.Position != 12 || h.SubscriptionGeneration != 2 || h.LastTimestamp != 700 {
		t.Fatalf("header %+v", h)
	}
	var n wire.BackupCounts
	for i := range whole {
		n.Add(&whole[i])
	}
	if want := (wire.BackupCounts{Events: 12, Streams: 3, Snapshots: 3, Subscriptions: 2, Parked: 2}); n != want {
		t.Fatalf("counts %+v, want %+v", n, want)
	}
	_, small := dump(t, src.s, 1)
	if len(small) != 22 {
		t.Fatalf("%d one-record chunks, want 22", len(small))
	}
	dst, r := restoreAll(t, h, small)
	res := as[RestoreResult](t, r)
	if !res.Completed || res.Restored != n {
		t.Fatalf("restore result %+v", res)
	}
	h2, again := dump(t, dst.s, 1<<30)
	h2.Taken = h.Taken
	if h2 != h {
		t.Fatalf("restored header %+v, want %+v", h2, h)
	}
	if !reflect.DeepEqual(again, whole) {
		t.Fatalf("restored store dumps\n%+v\nwant\n%+v", again, whole)
	}
	// It serves: reads, a new append with the next position and a later
	// timestamp, a new subscription with the next generation.
	if got := readAll(t, dst.s); len(got) != 12 {
		t.Fatalf("restored store reads %d events", len(got))
	}
	ar := as[AppendResult](t, dst.apply(50, appendCmd("order-1", ExpectExact, 6, 1))[0])
	if ar.FirstPosition != 12 || ar.FirstRevision != 7 || ar.Timestamp < 700 {
		t.Fatalf("append after restore: %+v", ar)
	}
	if r := dst.apply(3000, appendCmd("order-2", ExpectAny, 0, 1))[0]; codes.As(r.Err()) == nil || codes.As(r.Err()).Code != codes.StreamDeleted {
		t.Fatalf("append to the deleted stream: %v", r.Err())
	}
	dst.apply(3000, psubCmd(t, OpPSubCreate, "c", &PSubCreate{Def: psubDef("c", StartAtStart)}))
	if p, err := getPSub(t, dst.s, "c"); err != nil || p.Gen != 3 {
		t.Fatalf("new subscription %+v %v", p, err)
	}
	// A completed restore cannot begin again.
	wantCode(t, "restore again", dst.restore(4000, RestoreStep{Header: &h}), codes.StoreNotEmpty)
}

// While a restore is in progress, every other command and query is
// store_restoring; a restore goes only into an empty store; steps are
// resendable and ordered.
func TestRestoreRules(t *testing.T) {
	src := sourceStore(t)
	h, chunks := dump(t, src.s, 1<<30)

	wantCode(t, "restore into a store with data", src.restore(800, RestoreStep{Header: &h}), codes.StoreNotEmpty)

	s, _ := open(t, t.TempDir())
	defer s.Close()
	a := &smApplier{t: t, s: s}
	if r := a.restore(10, RestoreStep{Header: &h}); r.Err() != nil {
		t.Fatal(r.Err())
	}
	if r := a.restore(11, RestoreStep{Header: &h}); !as[RestoreResult](t, r).Duplicate {
		t.Fatal("a resent step 0 is not a duplicate")
	}
	other := h
	other.Position++
	wantCode(t, "a second restore", a.restore(12, RestoreStep{Header: &other}), codes.StoreNotEmpty)
	wantCode(t, "append while restoring", a.apply(13, appendCmd("x", ExpectAny, 0, 1))[0], codes.StoreRestoring)
	if _, err := s.Lookup(ReadAll{Count: 10}); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("read while restoring: %v", err)
	}
	if _, err := s.Lookup(BackupOpen{}); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("backup while restoring: %v", err)
	}
	wantCode(t, "a step out of order", a.restore(14, RestoreStep{Seq: 2, Chunk: &chunks[0]}), codes.InvalidArgument)
	if r := a.restore(15, RestoreStep{Seq: 1, Chunk: &chunks[0]}); r.Err() != nil {
		t.Fatal(r.Err())
	}
	if r := a.restore(16, RestoreStep{Seq: 1, Chunk: &chunks[0]}); !as[RestoreResult](t, r).Duplicate {
		t.Fatal("a resent step is not a duplicate")
	}
	// Counts that do not match: truncated.
	short := wire.BackupCounts{Events: 1}
	wantCode(t, "wrong counts", a.restore(17, RestoreStep{Seq: 2, Counts: &short}), codes.InvalidBackup)
	// Failed: it never completes.
	var n wire.BackupCounts
	n.Add(&chunks[0])
	wantCode(t, "after a failure", a.restore(18, RestoreStep{Seq: 3, Counts: &n}), codes.InvalidBackup)
	info, err := s.Lookup(RestoreStatus{})
	if err != nil || !info.(RestoreInfo).InProgress || info.(RestoreInfo).Failed == "" {
		t.Fatalf("restore status %+v %v", info, err)
	}
}

// Records that no store could hold are refused: a gap in positions, a
// stream whose counters disagree with its events, a snapshot of a deleted
// stream, a parked event of an unknown subscription.
func TestRestoreRefusesInconsistentRecords(t *testing.T) {
	src := sourceStore(t)
	h, chunks := dump(t, src.s, 1<<30)
	c := chunks[0]
	cases := map[string]func(c *wire.BackupChunk){
		"gap":              func(c *wire.BackupChunk) { c.Events = c.Events[1:] },
		"duplicate id":     func(c *wire.BackupChunk) { c.Events[1].ID = c.Events[0].ID },
		"revision gap":     func(c *wire.BackupChunk) { c.Events[1].Revision = 5 },
		"stream counters":  func(c *wire.BackupChunk) { c.Streams[0].LastPosition++ },
		"deleted snapshot": func(c *wire.BackupChunk) { c.Snapshots[0].Stream = "order-2" },
		"unknown parked":   func(c *wire.BackupChunk) { c.Parked[0].Subscription = "zz" },
		"time goes back":   func(c *wire.BackupChunk) { c.Events[11].Timestamp = 1 },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			bad := deepCopy(t, c)
			spoil(&bad)
			_, r := restoreAll(t, h, []wire.BackupChunk{bad})
			wantCode(t, name, r, codes.InvalidBackup)
		})
	}
}

func deepCopy(t *testing.T, c wire.BackupChunk) wire.BackupChunk {
	t.Helper()
	b, err := wire.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var out wire.BackupChunk
	if err := wire.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

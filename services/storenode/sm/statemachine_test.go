package sm

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// testEngine returns the engine in dir, opened once per test and closed
// when the test ends (after the state machines the test closes).
func testEngine(tb testing.TB, dir string) *Engine {
	tb.Helper()
	testEnginesMu.Lock()
	defer testEnginesMu.Unlock()
	if e := testEngines[dir]; e != nil {
		return e
	}
	e, err := OpenEngine(dir, EngineOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	testEngines[dir] = e
	tb.Cleanup(func() {
		testEnginesMu.Lock()
		delete(testEngines, dir)
		testEnginesMu.Unlock()
		if err := e.Close(); err != nil {
			tb.Errorf("close engine: %v", err)
		}
	})
	return e
}

var (
	testEnginesMu sync.Mutex
	testEngines   = map[string]*Engine{}
)

// open opens the state machine of replica 1 of shard 1 in the engine in dir.
func open(t *testing.T, dir string) (*StateMachine, uint64) {
	t.Helper()
	s := New(testEngine(t, dir), 1, 1, "", wire.DefaultLimits())
	applied, err := s.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, applied
}

func appendCmd(stream string, expect uint8, rev uint64, n int) Command {
	c := Command{Op: OpAppend, Stream: stream, Expect: expect, Revision: rev}
	for i := range n {
		c.Events = append(c.Events, EventCmd{ID: uuid.New(), Type: "T", Data: []byte(fmt.Sprint(i))})
	}
	return c
}

func entry(t *testing.T, index uint64, time int64, cmds ...Command) dbsm.Entry {
	t.Helper()
	b, err := EncodeBatch(&Batch{Time: time, Cmds: cmds})
	if err != nil {
		t.Fatal(err)
	}
	return dbsm.Entry{Index: index, Cmd: b}
}

func results(t *testing.T, e dbsm.Entry) []Result {
	t.Helper()
	rs, err := DecodeResults(e.Result.Data)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// as returns the typed result of a command that succeeded.
func as[R any](t *testing.T, r Result) R {
	t.Helper()
	out, err := ResultAs[R](r)
	if err != nil {
		t.Fatalf("result %+v: %v", r, err)
	}
	return out
}

func readAll(t *testing.T, s *StateMachine) []Event {
	t.Helper()
	v, err := s.Lookup(ReadAll{Count: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return v.(*AllPage).Events
}

// Commands in one entry see each other; each has its own result.
func TestBatchCommandsSeeEachOther(t *testing.T) {
	s, _ := open(t, t.TempDir())
	defer s.Close()
	a := appendCmd("x", ExpectNoStream, 0, 2)
	b := appendCmd("x", ExpectNoStream, 0, 1) // loses: a created x in the same entry
	c := appendCmd("x", ExpectExact, 1, 1)
	es, err := s.Update([]dbsm.Entry{entry(t, 1, 100, a, b, c)})
	if err != nil {
		t.Fatal(err)
	}
	rs := results(t, es[0])
	if rs[0].Code != 0 || rs[1].Code != int(codes.WrongExpectedRevision) || !rs[1].HasCurrent || rs[1].Current != 1 || rs[2].Code != 0 {
		t.Fatalf("results %+v", rs)
	}
	if r := as[AppendResult](t, rs[2]); r.FirstRevision != 2 || r.FirstPosition != 2 {
		t.Fatalf("third append %+v", r)
	}
	// A retry of a in a later entry is a duplicate, even against a stale expectation.
	es, _ = s.Update([]dbsm.Entry{entry(t, 2, 50, a)})
	if r := as[AppendResult](t, results(t, es[0])[0]); !r.Duplicate || r.FirstRevision != 0 || r.LastRevision != 1 || r.Timestamp != 100 {
		t.Fatalf("retry %+v", r)
	}
	// Timestamps never go back, even when the proposer's clock does.
	if evs := readAll(t, s); len(evs) != 3 || evs[2].Timestamp != 100 {
		t.Fatalf("events %+v", evs)
	}
}

// The applied index is persisted with the data: after reopening, Open
// reports the last applied entry and the data matches it.
func TestAppliedIndexSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, applied := open(t, dir)
	if applied != 0 {
		t.Fatalf("fresh store applied %d", applied)
	}
	for i := uint64(1); i <= 5; i++ {
		if _, err := s.Update([]dbsm.Entry{entry(t, i, int64(i), appendCmd("s", ExpectAny, 0, 3))}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Applied(); got != 5 {
		t.Fatalf("Applied %d, want 5", got)
	}
	s.Close()
	s, applied = open(t, dir)
	defer s.Close()
	if applied != 5 || s.Applied() != 5 {
		t.Fatalf("applied %d (Applied %d) after reopen, want 5", applied, s.Applied())
	}
	es, _ := s.Update([]dbsm.Entry{entry(t, 6, 9, appendCmd("s", ExpectExact, 14, 1))})
	if r := as[AppendResult](t, results(t, es[0])[0]); r.FirstPosition != 15 {
		t.Fatalf("append after reopen %+v", r)
	}
	if got := s.Applied(); got != 6 {
		t.Fatalf("Applied %d, want 6", got)
	}
}

// A snapshot carries the whole store; a replica recovered from it answers
// exactly like the original and continues from the same head.
func TestSnapshotRoundTrip(t *testing.T) {
	src, _ := open(t, t.TempDir())
	defer src.Close()
	for i := uint64(1); i <= 20; i++ {
		src.Update([]dbsm.Entry{entry(t, i, int64(i), appendCmd(fmt.Sprintf("s-%d", i%4), ExpectAny, 0, 5))})
	}
	src.Update([]dbsm.Entry{entry(t, 21, 30, Command{Op: OpDelete, Stream: "s-1"})})
	buf := saveSnapshot(t, src)

	dstDir := t.TempDir()
	dst, _ := open(t, dstDir)
	dst.Update([]dbsm.Entry{entry(t, 1, 1, appendCmd("junk", ExpectAny, 0, 1))}) // replaced by the snapshot
	if err := dst.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if got := dst.Applied(); got != 21 {
		t.Fatalf("Applied %d after recovery, want the snapshot's 21", got)
	}
	if a, b := fmt.Sprint(readAll(t, src)), fmt.Sprint(readAll(t, dst)); a != b {
		t.Fatal("recovered $all differs from the source")
	}
	if _, err := dst.Lookup(GetStream{Stream: "junk"}); err == nil {
		t.Fatal("data from before the snapshot survived recovery")
	}
	if _, err := dst.Lookup(ReadStream{Stream: "s-1", Count: 10}); !isCode(err, codes.StreamDeleted) {
		t.Fatalf("deleted stream after recovery: %v", err)
	}
	es, _ := dst.Update([]dbsm.Entry{entry(t, 22, 40, appendCmd("s-2", ExpectAny, 0, 1))})
	if r := as[AppendResult](t, results(t, es[0])[0]); r.FirstPosition != 100 || r.FirstRevision != 25 {
		t.Fatalf("append after recovery %+v", r)
	}
	// The switch to the recovered database survives a reopen.
	dst.Close()
	dst, applied := open(t, dstDir)
	defer dst.Close()
	if applied != 22 || len(readAll(t, dst)) != 101 {
		t.Fatalf("after reopen: applied %d, %d events", applied, len(readAll(t, dst)))
	}
}

// Something that is not a snapshot is refused before the store is touched;
// a snapshot that breaks off half way leaves the replica unusable until it
// is reopened, and the reopen drops the half-written range (applied 0, so
// dragonboat recovers from its snapshot again).
func TestRecoverRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir)
	defer s.Close()
	s.Update([]dbsm.Entry{entry(t, 1, 1, appendCmd("keep", ExpectAny, 0, 2))})
	for _, junk := range [][]byte{nil, []byte("nope")} {
		if err := s.RecoverFromSnapshot(bytes.NewReader(junk), nil); err == nil {
			t.Fatalf("recovered from %q", junk)
		}
	}
	if len(readAll(t, s)) != 2 {
		t.Fatal("a refused recovery harmed the data")
	}
	if err := s.RecoverFromSnapshot(bytes.NewReader(append([]byte("LBS1"), 0xff, 0xff)), nil); err == nil {
		t.Fatal("recovered from a broken snapshot")
	}
	if _, err := s.Lookup(ReadAll{Count: 10}); !isCode(err, codes.Unavailable) {
		t.Fatalf("read after a broken recovery: %v", err)
	}
	if _, err := s.Update([]dbsm.Entry{entry(t, 2, 2, appendCmd("keep", ExpectAny, 0, 1))}); err == nil {
		t.Fatal("applied after a broken recovery")
	}
	s.Close()
	s, applied := open(t, dir)
	if applied != 0 || len(readAll(t, s)) != 0 {
		t.Fatalf("reopen after a broken recovery: applied %d, %d events", applied, len(readAll(t, s)))
	}
}

// An entry of this version that cannot be decoded fails its own result,
// deterministically (every build reads it the same way), and harms nothing.
func TestUndecodableEntry(t *testing.T) {
	s, _ := open(t, t.TempDir())
	defer s.Close()
	es, err := s.Update([]dbsm.Entry{{Index: 1, Cmd: []byte{EntryVersion, 0xc1, 2}}, entry(t, 2, 1, appendCmd("ok", ExpectAny, 0, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if r := results(t, es[0]); len(r) != 1 || r[0].Code != int(codes.Internal) {
		t.Fatalf("bad entry result %+v", r)
	}
	if r := as[AppendResult](t, results(t, es[1])[0]); r.FirstPosition != 0 {
		t.Fatalf("next entry %+v", r)
	}
}

func isCode(err error, c codes.Code) bool {
	e, ok := err.(*codes.Error)
	return ok && e.Code == c
}

// An entry of a newer entry version halts the replica: a newer build wrote
// it, and the replicas that can read it apply it.
func TestNewerEntryVersionHaltsTheReplica(t *testing.T) {
	s, _ := open(t, t.TempDir())
	defer s.Close()
	_, err := s.Update([]dbsm.Entry{{Index: 1, Cmd: []byte{EntryVersion + 1, 0x90}}})
	if !errors.Is(err, ErrNewerEntry) {
		t.Fatalf("update with a newer entry version: %v", err)
	}
	if s.Applied() != 0 {
		t.Fatalf("applied index %d", s.Applied())
	}
}

// saveSnapshot takes a Raft snapshot of src as dragonboat would stream it
// to a follower.
func saveSnapshot(t *testing.T, src *StateMachine) *bytes.Buffer {
	t.Helper()
	ctx, err := src.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// An append sent twice in one entry is a duplicate the second time (the id
// lookup sees the entry's own writes), and so is a retry once the events
// are in the engine's tables (the lookup goes through their filters).
func TestDuplicateInOneEntryAndFromTables(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir)
	defer s.Close()
	a := appendCmd("x", ExpectAny, 0, 3)
	es, err := s.Update([]dbsm.Entry{entry(t, 1, 100, a, a)})
	if err != nil {
		t.Fatal(err)
	}
	rs := results(t, es[0])
	if r := as[AppendResult](t, rs[1]); rs[0].Code != 0 || !r.Duplicate || r.FirstPosition != 0 || r.LastRevision != 2 {
		t.Fatalf("results %+v, second %+v", rs, r)
	}
	if err := testEngine(t, dir).db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := testEngine(t, dir).db.Compact([]byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	es, _ = s.Update([]dbsm.Entry{entry(t, 2, 200, a, appendCmd("x", ExpectAny, 0, 1))})
	rs = results(t, es[0])
	if r := as[AppendResult](t, rs[0]); !r.Duplicate || r.Timestamp != 100 || rs[1].Code != 0 {
		t.Fatalf("retry from tables: %+v (%+v)", r, rs)
	}
	// Half old ids, half new: a conflict, as before.
	mixed := a
	mixed.Events = append([]EventCmd{a.Events[0]}, appendCmd("x", ExpectAny, 0, 1).Events...)
	es, _ = s.Update([]dbsm.Entry{entry(t, 3, 300, mixed)})
	if rs := results(t, es[0]); rs[0].Code != int(codes.IdempotencyConflict) {
		t.Fatalf("mixed ids: %+v", rs)
	}
}

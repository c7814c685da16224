package sm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
)

func usageOf(t *testing.T, s *StateMachine) Usage {
	t.Helper()
	v, err := s.Lookup(QuotaStatus{})
	if err != nil {
		t.Fatal(err)
	}
	return v.(Usage)
}

func quotaCmd(t *testing.T, q Quota) Command {
	t.Helper()
	aux, err := EncodeAux(&q)
	if err != nil {
		t.Fatal(err)
	}
	return Command{Op: OpSetQuota, Aux: aux}
}

// wantBytes is the byte usage of every event of the store, from its reads.
func wantBytes(t *testing.T, s *StateMachine) uint64 {
	t.Helper()
	var n uint64
	for _, e := range readAll(t, s) {
		n += EventBytes(e.Stream, e.Type, e.Data, e.Metadata, e.DataContentType, e.MetadataContentType)
	}
	return n
}

func checkUsage(t *testing.T, what string, s *StateMachine, events uint64, q Quota) {
	t.Helper()
	u := usageOf(t, s)
	if want := (Usage{Events: events, Bytes: wantBytes(t, s), Quota: q}); u != want {
		t.Fatalf("%s: usage %+v, want %+v", what, u, want)
	}
}

// Usage counts every event stored, with its bytes; a deleted stream's
// events stay stored (a tombstone) and keep counting; it survives a reopen.
func TestUsageAccounting(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir)
	a := &smApplier{t: t, s: s}
	checkUsage(t, "empty", s, 0, Quota{})
	a.apply(100, appendCmd("a", ExpectAny, 0, 3), appendCmd("b", ExpectAny, 0, 2))
	c := appendCmd("a", ExpectAny, 0, 1)
	c.Events[0].Metadata, c.Events[0].DataContentType = []byte("meta"), "application/json"
	a.apply(200, c)
	checkUsage(t, "after appends", s, 6, Quota{})
	if u := usageOf(t, s); u.Bytes != uint64(6*(32+1+1+1)+4+len("application/json")) {
		t.Fatalf("bytes %d", u.Bytes)
	}
	before := usageOf(t, s)
	a.apply(300, Command{Op: OpDelete, Stream: "b"})
	if u := usageOf(t, s); u != before {
		t.Fatalf("delete changed usage: %+v, was %+v", u, before)
	}
	// Refused appends count nothing.
	wantCode(t, "wrong revision", a.apply(400, appendCmd("a", ExpectNoStream, 0, 2))[0], codes.WrongExpectedRevision)
	wantCode(t, "deleted stream", a.apply(400, appendCmd("b", ExpectAny, 0, 2))[0], codes.StreamDeleted)
	if u := usageOf(t, s); u != before {
		t.Fatalf("refused appends changed usage: %+v, was %+v", u, before)
	}
	s.Close()
	s, _ = open(t, dir)
	defer s.Close()
	if u := usageOf(t, s); u != before {
		t.Fatalf("after reopen: usage %+v, was %+v", u, before)
	}
}

// An append that would take the store past its quota is refused as a
// whole with quota_exceeded, and writes nothing; racing appends in one
// entry see each other's usage; a duplicate of a written append still
// succeeds; raising or removing the quota lets appends in again.
func TestQuotaEnforced(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir)
	a := &smApplier{t: t, s: s}
	if s.QuotaSet() {
		t.Fatal("a new store has its quota set")
	}
	q := Quota{MaxEvents: 5}
	if r := as[SetQuotaResult](t, a.apply(1, quotaCmd(t, q))[0]); !r.Changed {
		t.Fatal("set quota: not changed")
	}
	if r := as[SetQuotaResult](t, a.apply(1, quotaCmd(t, q))[0]); r.Changed {
		t.Fatal("set quota again: changed")
	}
	first := appendCmd("x", ExpectAny, 0, 3)
	a.apply(10, first)
	wantCode(t, "batch crossing the quota", a.apply(20, appendCmd("x", ExpectAny, 0, 3))[0], codes.QuotaExceeded)
	checkUsage(t, "after the refused batch", s, 3, q)
	// Racing appends at the edge in one entry: the first fits, the second
	// does not, a third small one still fits after it.
	rs := a.apply(30, appendCmd("y", ExpectAny, 0, 1), appendCmd("z", ExpectAny, 0, 2), appendCmd("w", ExpectAny, 0, 1))
	if rs[0].Code != 0 || rs[1].Code != int(codes.QuotaExceeded) || rs[2].Code != 0 {
		t.Fatalf("racing appends: %+v", rs)
	}
	checkUsage(t, "full", s, 5, q)
	wantCode(t, "full store", a.apply(40, appendCmd("x", ExpectAny, 0, 1))[0], codes.QuotaExceeded)
	// A retry of an append already written is its duplicate, not a new write.
	if r := as[AppendResult](t, a.apply(50, first)[0]); !r.Duplicate {
		t.Fatalf("retry on a full store: %+v", r)
	}
	// Reads and deletes work on a full store.
	if _, err := s.Lookup(ReadStream{Stream: "x", Count: 10}); err != nil {
		t.Fatal(err)
	}
	as[DeleteResult](t, a.apply(60, Command{Op: OpDelete, Stream: "w"})[0])

	// Bytes: the quota holds exactly the bytes stored so far plus 35.
	q = Quota{MaxBytes: usageOf(t, s).Bytes + 35}
	a.apply(70, quotaCmd(t, q))
	big := appendCmd("x", ExpectAny, 0, 1)
	big.Events[0].Data = []byte("12") // 32 + stream 1 + type 1 + data 2 = 36 bytes: one too many
	wantCode(t, "over max_bytes", a.apply(80, big)[0], codes.QuotaExceeded)
	fits := appendCmd("x", ExpectAny, 0, 1) // 32 + 1 + 1 + 1 = 35
	as[AppendResult](t, a.apply(80, fits)[0])
	checkUsage(t, "bytes almost full", s, 6, q)
	wantCode(t, "one byte over", a.apply(90, big)[0], codes.QuotaExceeded)

	// The quota and usage survive a reopen; removing the quota lets appends in.
	s.Close()
	s, _ = open(t, dir)
	defer s.Close()
	a.s = s
	checkUsage(t, "after reopen", s, 6, q)
	wantCode(t, "after reopen", a.apply(100, big)[0], codes.QuotaExceeded)
	a.apply(110, quotaCmd(t, Quota{}))
	as[AppendResult](t, a.apply(120, big)[0])
	checkUsage(t, "no quota", s, 7, Quota{})
	// A quota set to none is still set: the node serves the store's appends.
	s.Close()
	s, _ = open(t, dir)
	defer s.Close()
	if !s.QuotaSet() {
		t.Fatal("a quota set to none reads as never set after a reopen")
	}
}

// A data directory written by a build that did not count usage (no usage
// key, or a count that stops before the head) is counted at Open, from
// the records, and the count written back.
func TestUsageCountedForOlderData(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprint("stale=", stale), func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, dir)
			a := &smApplier{t: t, s: s}
			a.apply(1, appendCmd("a", ExpectAny, 0, 4))
			partial := usageOf(t, s)
			a.apply(2, appendCmd("b", ExpectAny, 0, 3), appendCmd("a", ExpectAny, 0, 2))
			want := usageOf(t, s)
			// What an older build leaves: no usage key, or one it never moved.
			var err error
			if stale {
				err = rawWrite(s, keyUsage, encode(&usage{Position: partial.Events, Bytes: partial.Bytes}))
			} else {
				err = rawWrite(s, keyUsage, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, _ = open(t, dir)
			defer s.Close()
			if u := usageOf(t, s); u != want || want.Events != 9 {
				t.Fatalf("usage %+v, want %+v", u, want)
			}
			snap := s.snapshot()
			u, err := readUsage(snap)
			snap.Close()
			if err != nil || u.Position != 9 || u.Bytes != want.Bytes {
				t.Fatalf("usage written back %+v %v", u, err)
			}
		})
	}
}

// A replica recovered from a snapshot has the source's usage and quota,
// also when the snapshot comes from a build that did not count usage.
func TestUsageAndQuotaInRaftSnapshot(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprint("old=", old), func(t *testing.T) {
			src, _ := open(t, t.TempDir())
			defer src.Close()
			a := &smApplier{t: t, s: src}
			q := Quota{MaxEvents: 10, MaxBytes: 1 << 20}
			a.apply(1, quotaCmd(t, q), appendCmd("a", ExpectAny, 0, 4), appendCmd("b", ExpectAny, 0, 3))
			a.apply(2, Command{Op: OpDelete, Stream: "b"})
			want := usageOf(t, src)
			if old {
				if err := rawWrite(src, keyUsage, nil); err != nil {
					t.Fatal(err)
				}
			}
			buf := saveSnapshot(t, src)
			dst, _ := open(t, t.TempDir())
			defer dst.Close()
			dst.Update([]dbsm.Entry{entry(t, 1, 1, appendCmd("junk", ExpectAny, 0, 2))})
			if err := dst.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
				t.Fatal(err)
			}
			if u := usageOf(t, dst); u != want {
				t.Fatalf("recovered usage %+v, want %+v", u, want)
			}
			// The recovered replica enforces the quota from the usage it loaded.
			es, err := dst.Update([]dbsm.Entry{entry(t, 3, 3, appendCmd("c", ExpectAny, 0, 4))})
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, "past the recovered quota", results(t, es[0])[0], codes.QuotaExceeded)
		})
	}
}

// A restore counts the events it writes.
func TestUsageAfterRestore(t *testing.T) {
	src := sourceStore(t)
	h, chunks := dump(t, src.s, 200)
	dst, r := restoreAll(t, h, chunks)
	if !as[RestoreResult](t, r).Completed {
		t.Fatal("restore did not complete")
	}
	want := usageOf(t, src.s)
	if u := usageOf(t, dst.s); u != want || u.Events != 12 || u.Bytes == 0 {
		t.Fatalf("restored usage %+v, source %+v", u, want)
	}
	checkUsage(t, "restored", dst.s, 12, Quota{})
}

// rawWrite sets (v != nil) or deletes one key of the replica's range behind
// the state machine's back, as an older build would have left it.
func rawWrite(s *StateMachine, k, v []byte) error {
	b := &kvBatch{b: s.eng.db.NewBatch(), sp: s.sp}
	defer b.b.Close()
	var err error
	if v == nil {
		err = b.Delete(k, nil)
	} else {
		err = b.Set(k, v, nil)
	}
	if err != nil {
		return err
	}
	return b.b.Commit(pebble.Sync)
}

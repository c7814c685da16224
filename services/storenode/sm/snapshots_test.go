package sm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
)

// snapTest drives one state machine with one command per entry.
type snapTest struct {
	t     *testing.T
	s     *StateMachine
	index uint64
}

func newSnapTest(t *testing.T) *snapTest {
	s, _ := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return &snapTest{t: t, s: s}
}

// apply applies cmds as one entry at time ts and returns their results.
func (st *snapTest) apply(ts int64, cmds ...Command) []Result {
	st.t.Helper()
	st.index++
	es, err := st.s.Update([]dbsm.Entry{entry(st.t, st.index, ts, cmds...)})
	if err != nil {
		st.t.Fatal(err)
	}
	return results(st.t, es[0])
}

func (st *snapTest) one(ts int64, c Command) Result {
	st.t.Helper()
	return st.apply(ts, c)[0]
}

func saveCmd(stream string, version uint64, typ, data string, keepLast uint64) Command {
	return SnapshotSaveCommand(stream, &SnapshotSave{
		Version: version, Type: typ, Data: []byte(data), DataContentType: "application/json",
		Metadata: []byte("m-" + data), KeepLast: keepLast,
	})
}

func (st *snapTest) read(stream string, max *uint64) (*Snapshot, error) {
	v, err := st.s.Lookup(SnapshotRead{Stream: stream, MaxVersion: max})
	if err != nil {
		return nil, err
	}
	return v.(*Snapshot), nil
}

func (st *snapTest) list(stream string, after *uint64, limit int) *SnapshotPage {
	st.t.Helper()
	v, err := st.s.Lookup(SnapshotList{Stream: stream, After: after, Limit: limit})
	if err != nil {
		st.t.Fatal(err)
	}
	return v.(*SnapshotPage)
}

func versionsOf(r *SnapshotPage) []uint64 {
	var vs []uint64
	for _, s := range r.Snapshots {
		vs = append(vs, s.Version)
	}
	return vs
}

func ptr(v uint64) *uint64 { return &v }

func wantCode(t *testing.T, what string, r Result, c codes.Code) {
	t.Helper()
	if r.Code != int(c) {
		t.Fatalf("%s: result %+v, want %s", what, r, c.Name())
	}
}

func TestSnapshotSaveRules(t *testing.T) {
	st := newSnapTest(t)
	wantCode(t, "save for a missing stream", st.one(10, saveCmd("order-1", 0, "Order", "a", 0)), codes.StreamNotFound)
	st.one(20, appendCmd("order-1", ExpectAny, 0, 3)) // revisions 0..2
	wantCode(t, "version ahead", st.one(30, saveCmd("order-1", 3, "Order", "a", 0)), codes.SnapshotVersionAhead)

	r := as[SnapshotSaveResult](t, st.one(40, saveCmd("order-1", 1, "Order", "v1", 0)))
	if r.Version != 1 || r.Created != 40 || r.Duplicate || r.Pruned != 0 {
		t.Fatalf("save: %+v", r)
	}
	// The same content again is a duplicate with the original created time.
	if r := as[SnapshotSaveResult](t, st.one(50, saveCmd("order-1", 1, "Order", "v1", 0))); !r.Duplicate || r.Created != 40 || r.Version != 1 {
		t.Fatalf("duplicate save: %+v", r)
	}
	// Other content, type or content type at the same version is a conflict.
	wantCode(t, "other data", st.one(60, saveCmd("order-1", 1, "Order", "v1x", 0)), codes.SnapshotConflict)
	wantCode(t, "other type", st.one(60, saveCmd("order-1", 1, "Order2", "v1", 0)), codes.SnapshotConflict)
	other := saveCmd("order-1", 1, "Order", "v1", 0)
	other.Aux = encode(&SnapshotSave{Version: 1, Type: "Order", Data: []byte("v1"), Metadata: []byte("m-v1")})
	wantCode(t, "other content type", st.one(60, other), codes.SnapshotConflict)

	st.one(70, saveCmd("order-1", 2, "Order", "v2", 0))
	st.one(80, saveCmd("order-1", 0, "Order", "v0", 0)) // an older version may come later

	got, err := st.read("order-1", nil)
	if err != nil || got.Version != 2 || string(got.Data) != "v2" || string(got.Metadata) != "m-v2" ||
		got.Type != "Order" || got.DataContentType != "application/json" || got.Created != 70 {
		t.Fatalf("latest: %+v, %v", got, err)
	}
	for max, want := range map[uint64]string{0: "v0", 1: "v1", 2: "v2", 1 << 40: "v2"} {
		if got, err := st.read("order-1", ptr(max)); err != nil || string(got.Data) != want {
			t.Fatalf("at or below %d: %+v, %v", max, got, err)
		}
	}
	if _, err := st.read("order-2", nil); !isCode(err, codes.StreamNotFound) {
		t.Fatalf("read of a missing stream: %v", err)
	}
	st.one(90, appendCmd("order-2", ExpectAny, 0, 1))
	if _, err := st.read("order-2", nil); !isCode(err, codes.SnapshotNotFound) {
		t.Fatalf("read of a stream without snapshots: %v", err)
	}
	if l := st.list("order-2", nil, 10); len(l.Snapshots) != 0 || l.Next != nil {
		t.Fatalf("list of a stream without snapshots: %+v", l)
	}
	// A stream whose name extends another's sees none of its snapshots.
	st.one(95, appendCmd("order-1x", ExpectAny, 0, 5))
	if _, err := st.read("order-1x", nil); !isCode(err, codes.SnapshotNotFound) {
		t.Fatalf("order-1x sees order-1's snapshots: %v", err)
	}
	st.one(96, saveCmd("order-1x", 4, "Order", "x4", 0))
	if got, _ := st.read("order-1", nil); got.Version != 2 {
		t.Fatalf("order-1 sees order-1x's snapshot: %+v", got)
	}
}

func TestSnapshotReadAtOrBelow(t *testing.T) {
	st := newSnapTest(t)
	st.one(1, appendCmd("s", ExpectAny, 0, 100))
	for _, v := range []uint64{10, 20, 30} {
		st.one(int64(v), saveCmd("s", v, "T", fmt.Sprint(v), 0))
	}
	for max, want := range map[uint64]uint64{10: 10, 15: 10, 20: 20, 29: 20, 30: 30, 99: 30} {
		if got, err := st.read("s", ptr(max)); err != nil || got.Version != want {
			t.Fatalf("at or below %d: %+v, %v (want %d)", max, got, err, want)
		}
	}
	if _, err := st.read("s", ptr(9)); !isCode(err, codes.SnapshotNotFound) {
		t.Fatalf("below the lowest: %v", err)
	}
}

func TestSnapshotListPaging(t *testing.T) {
	st := newSnapTest(t)
	st.one(1, appendCmd("s", ExpectAny, 0, 50))
	big := string(bytes.Repeat([]byte("x"), 64<<10))
	var want []uint64
	for v := uint64(0); v < 50; v += 7 {
		st.one(int64(100+v), saveCmd("s", v, fmt.Sprint("T", v), big, 0))
		want = append(want, v)
	}
	if err := st.s.Sync(); err != nil { // list from sstables too, not only the memtable
		t.Fatal(err)
	}
	var got []uint64
	var after *uint64
	pages := 0
	for {
		page := st.list("s", after, 3)
		pages++
		for _, s := range page.Snapshots {
			if s.Type != fmt.Sprint("T", s.Version) || s.DataSize != uint64(len(big)) || s.MetadataSize != uint64(len(big)+2) || s.Created != int64(100+s.Version) {
				t.Fatalf("info %+v", s)
			}
		}
		got = append(got, versionsOf(page)...)
		if page.Next == nil {
			break
		}
		if *page.Next != page.Snapshots[len(page.Snapshots)-1].Version {
			t.Fatalf("next %d is not the last version of the page", *page.Next)
		}
		after = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v", got, pages, want)
	}
	if l := st.list("s", ptr(49), 3); len(l.Snapshots) != 0 || l.Next != nil {
		t.Fatalf("after the last: %+v", l)
	}
}

func TestSnapshotKeepLast(t *testing.T) {
	st := newSnapTest(t)
	st.one(1, appendCmd("s", ExpectAny, 0, 10))
	for v := uint64(0); v < 5; v++ {
		st.one(int64(10+v), saveCmd("s", v, "T", fmt.Sprint(v), 0))
	}
	r := as[SnapshotSaveResult](t, st.one(20, saveCmd("s", 7, "T", "7", 2)))
	if r.Pruned != 4 || r.Version != 7 {
		t.Fatalf("save with keep_last 2: %+v", r)
	}
	if vs := versionsOf(st.list("s", nil, 100)); fmt.Sprint(vs) != "[4 7]" {
		t.Fatalf("kept %v", vs)
	}
	// An older version than those kept is pruned at once.
	if r := as[SnapshotSaveResult](t, st.one(21, saveCmd("s", 1, "T", "1", 2))); r.Pruned != 1 {
		t.Fatalf("save of an old version with keep_last: %+v", r)
	}
	if vs := versionsOf(st.list("s", nil, 100)); fmt.Sprint(vs) != "[4 7]" {
		t.Fatalf("kept %v", vs)
	}
	// A retried save with keep_last prunes nothing more.
	if r := as[SnapshotSaveResult](t, st.one(22, saveCmd("s", 7, "T", "7", 2))); !r.Duplicate || r.Pruned != 0 || r.Created != 20 {
		t.Fatalf("retry: %+v", r)
	}
	// The pruned bodies are gone too.
	if n := st.countKeys(snapshotPrefix("s")); n != 4 {
		t.Fatalf("%d snapshot keys left, want 4 (2 headers, 2 bodies)", n)
	}
}

func TestSnapshotDelete(t *testing.T) {
	st := newSnapTest(t)
	wantCode(t, "delete on a missing stream", st.one(1, SnapshotDeleteCommand("s", nil)), codes.StreamNotFound)
	st.one(2, appendCmd("s", ExpectAny, 0, 10))
	if r := as[SnapshotDeleteResult](t, st.one(3, SnapshotDeleteCommand("s", nil))); r.Deleted != 0 {
		t.Fatalf("delete all of none: %+v", r)
	}
	for v := uint64(0); v < 4; v++ {
		st.one(int64(10+v), saveCmd("s", v, "T", fmt.Sprint(v), 0))
	}
	if r := as[SnapshotDeleteResult](t, st.one(20, SnapshotDeleteCommand("s", ptr(3)))); r.Deleted != 1 {
		t.Fatalf("delete one: %+v", r)
	}
	wantCode(t, "delete it again", st.one(21, SnapshotDeleteCommand("s", ptr(3))), codes.SnapshotNotFound)
	if got, _ := st.read("s", nil); got.Version != 2 {
		t.Fatalf("latest after deleting 3: %+v", got)
	}
	// A deleted version can be saved again, with other content.
	if r := as[SnapshotSaveResult](t, st.one(22, saveCmd("s", 3, "T", "new", 0))); r.Duplicate {
		t.Fatalf("save after delete: %+v", r)
	}
	if r := as[SnapshotDeleteResult](t, st.one(23, SnapshotDeleteCommand("s", nil))); r.Deleted != 4 {
		t.Fatalf("delete all: %+v", r)
	}
	if _, err := st.read("s", nil); !isCode(err, codes.SnapshotNotFound) {
		t.Fatalf("read after delete all: %v", err)
	}
	if n := st.countKeys(snapshotPrefix("s")); n != 0 {
		t.Fatalf("%d snapshot keys left", n)
	}
}

// Deleting a stream deletes its snapshots in the same apply; the stream's
// snapshot operations then answer stream_deleted.
func TestSnapshotsGoWithTheStream(t *testing.T) {
	st := newSnapTest(t)
	st.one(1, appendCmd("s", ExpectAny, 0, 3))
	st.one(1, appendCmd("t", ExpectAny, 0, 3))
	st.one(2, saveCmd("s", 1, "T", "1", 0))
	st.one(3, saveCmd("s", 2, "T", "2", 0))
	st.one(3, saveCmd("t", 2, "T", "2", 0))
	if r := as[DeleteResult](t, st.one(4, Command{Op: OpDelete, Stream: "s"})); r.LastRevision != 2 || r.Timestamp != 4 || r.Duplicate {
		t.Fatalf("delete stream: %+v", r)
	}
	if n := st.countKeys(snapshotPrefix("s")); n != 0 {
		t.Fatalf("%d snapshot keys left after deleting the stream", n)
	}
	if _, err := st.read("s", nil); !isCode(err, codes.StreamDeleted) {
		t.Fatalf("read: %v", err)
	}
	if _, err := st.s.Lookup(SnapshotList{Stream: "s", Limit: 10}); !isCode(err, codes.StreamDeleted) {
		t.Fatalf("list: %v", err)
	}
	wantCode(t, "save", st.one(5, saveCmd("s", 0, "T", "0", 0)), codes.StreamDeleted)
	wantCode(t, "delete", st.one(5, SnapshotDeleteCommand("s", nil)), codes.StreamDeleted)
	if got, err := st.read("t", nil); err != nil || got.Version != 2 {
		t.Fatalf("another stream's snapshot: %+v, %v", got, err)
	}
}

// Commands in one entry see each other's snapshots, and a command that
// cannot be decoded fails alone, writing nothing.
func TestSnapshotCommandsInOneEntry(t *testing.T) {
	st := newSnapTest(t)
	bad := Command{Op: OpSnapshotSave, Stream: "s", Aux: []byte{0xc1}}
	rs := st.apply(10,
		appendCmd("s", ExpectAny, 0, 2),
		saveCmd("s", 1, "T", "a", 0),
		saveCmd("s", 1, "T", "a", 0),
		bad,
		SnapshotDeleteCommand("s", ptr(1)),
		saveCmd("s", 0, "T", "b", 0),
	)
	if rs[3].Code != int(codes.Internal) || rs[5].Code != 0 ||
		as[SnapshotSaveResult](t, rs[1]).Duplicate || !as[SnapshotSaveResult](t, rs[2]).Duplicate || as[SnapshotDeleteResult](t, rs[4]).Deleted != 1 {
		t.Fatalf("results %+v", rs)
	}
	if vs := versionsOf(st.list("s", nil, 10)); fmt.Sprint(vs) != "[0]" {
		t.Fatalf("snapshots %v", vs)
	}
}

// Snapshots live in the store's database, so the store's Raft snapshot
// carries them, and they survive a reopen.
func TestSnapshotsInRaftSnapshotAndReopen(t *testing.T) {
	dir := t.TempDir()
	src, _ := open(t, dir)
	src.Update([]dbsm.Entry{
		entry(t, 1, 1, appendCmd("s", ExpectAny, 0, 5)),
		entry(t, 2, 2, saveCmd("s", 3, "T", "three", 0)),
		entry(t, 3, 3, saveCmd("s", 4, "T", "four", 0)),
	})
	buf := saveSnapshot(t, src)
	dst, _ := open(t, t.TempDir())
	defer dst.Close()
	if err := dst.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	src.Close()
	src, applied := open(t, dir)
	defer src.Close()
	if applied != 3 {
		t.Fatalf("applied %d after reopen", applied)
	}
	for name, s := range map[string]*StateMachine{"recovered": dst, "reopened": src} {
		v, err := s.Lookup(SnapshotRead{Stream: "s", MaxVersion: ptr(3)})
		if err != nil || string(v.(*Snapshot).Data) != "three" {
			t.Fatalf("%s: %+v, %v", name, v, err)
		}
		l, err := s.Lookup(SnapshotList{Stream: "s", Limit: 10})
		if err != nil || fmt.Sprint(versionsOf(l.(*SnapshotPage))) != "[3 4]" {
			t.Fatalf("%s: list %+v, %v", name, l, err)
		}
	}
}

// countKeys counts the committed keys with prefix p.
func (st *snapTest) countKeys(p []byte) int {
	st.t.Helper()
	st.s.mu.RLock()
	defer st.s.mu.RUnlock()
	snap := st.s.snapshot()
	defer snap.Close()
	it := snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

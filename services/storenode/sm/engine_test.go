package sm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
)

// openIn opens the state machine of a replica in eng.
func openIn(t *testing.T, eng *Engine, shard uint64, legacy string) (*StateMachine, uint64) {
	t.Helper()
	s := New(eng, shard, 1, legacy, wire.DefaultLimits())
	applied, err := s.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, applied
}

// fill appends n events to each of streams, one entry per stream, from
// index first on, and returns the next index.
func fill(t *testing.T, s *StateMachine, first uint64, tag string, n int, streams ...string) uint64 {
	t.Helper()
	for _, name := range streams {
		c := Command{Op: OpAppend, Stream: name, Expect: ExpectAny}
		for i := range n {
			c.Events = append(c.Events, EventCmd{ID: [16]byte{byte(first), byte(i), 1}, Type: tag, Data: bytes.Repeat([]byte(tag), 100)})
		}
		if _, err := s.Update([]dbsm.Entry{entry(t, first, int64(first), c)}); err != nil {
			t.Fatal(err)
		}
		first++
	}
	return first
}

// types returns the event types of a stream, or the error reading it.
func types(s *StateMachine, stream string) (string, error) {
	v, err := s.Lookup(ReadStream{Stream: stream, Count: 4096})
	if err != nil {
		return "", err
	}
	var out []string
	for _, e := range v.(*StreamPage).Events {
		out = append(out, e.Type)
	}
	return fmt.Sprint(len(out), out[:min(len(out), 1)]), nil
}

// rangeKeys counts the keys the engine holds for a replica, reading the
// engine directly (not through the state machine).
func rangeKeys(t *testing.T, eng *Engine, shard uint64) int {
	t.Helper()
	sp := replicaSpan(shard, 1)
	it := eng.db.NewIter(&pebble.IterOptions{LowerBound: sp.lo, UpperBound: sp.hi})
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

// Two stores in one engine with the same stream names hold different data,
// each sees only its own, and both come back after the engine restarts.
func TestStoresInOneEngineAreIsolated(t *testing.T) {
	dir := t.TempDir()
	eng, err := OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := openIn(t, eng, 1, "")
	b, _ := openIn(t, eng, 2, "")
	fill(t, a, 1, "A", 3, "orders", "only-a")
	fill(t, b, 1, "B", 5, "orders")
	check := func(when string, a, b *StateMachine) {
		t.Helper()
		if got, err := types(a, "orders"); err != nil || got != "3 [A]" {
			t.Fatalf("%s: a/orders %s, %v", when, got, err)
		}
		if got, err := types(b, "orders"); err != nil || got != "5 [B]" {
			t.Fatalf("%s: b/orders %s, %v", when, got, err)
		}
		if _, err := types(b, "only-a"); err == nil {
			t.Fatalf("%s: b reads a's stream", when)
		}
		if n := len(readAll(t, b)); n != 5 {
			t.Fatalf("%s: b's $all has %d events", when, n)
		}
		v, err := b.Lookup(ListStreams{Limit: 100})
		if err != nil || len(v.(*StreamList).Streams) != 1 {
			t.Fatalf("%s: b's streams %+v, %v", when, v, err)
		}
	}
	check("running", a, b)
	a.Close()
	b.Close()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	a, ia := openIn(t, eng, 1, "")
	defer a.Close()
	b, ib := openIn(t, eng, 2, "")
	defer b.Close()
	if ia != 2 || ib != 1 {
		t.Fatalf("applied after restart: a %d, b %d; want 2, 1", ia, ib)
	}
	check("after restart", a, b)
}

// Recovering one store from a snapshot replaces its range only.
func TestRecoverOneStoreLeavesTheOther(t *testing.T) {
	eng := testEngine(t, t.TempDir())
	a, _ := openIn(t, eng, 1, "")
	defer a.Close()
	b, _ := openIn(t, eng, 2, "")
	defer b.Close()
	fill(t, a, 1, "A", 3, "orders", "junk")
	fill(t, b, 1, "B", 4, "orders")

	src, _ := open(t, t.TempDir())
	defer src.Close()
	fill(t, src, 1, "S", 2, "orders", "s1", "s2")
	buf := saveSnapshot(t, src)
	bBefore, err := eng.Digest(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.SnapshotsRecovered(); n != 0 {
		t.Fatalf("%d recoveries counted before any", n)
	}
	if err := a.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if a.Applied() != 3 {
		t.Fatalf("a applied %d after recovery, want 3", a.Applied())
	}
	if n := eng.SnapshotsRecovered(); n != 1 {
		t.Fatalf("%d recoveries counted, want 1", n)
	}
	// a's range is now the source's, key for key; b's did not change.
	want, err := src.eng.Digest(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := eng.Digest(1, 1); err != nil || got != want || got.Applied != 3 || got.Keys < 10 {
		t.Fatalf("a's digest after recovery %+v (%v), the source's %+v", got, err, want)
	}
	if got, err := eng.Digest(2, 1); err != nil || got != bBefore {
		t.Fatalf("b's digest changed by a's recovery: %+v (%v), was %+v", got, err, bBefore)
	}
	if got, err := types(a, "orders"); err != nil || got != "2 [S]" {
		t.Fatalf("a/orders %s, %v", got, err)
	}
	if _, err := types(a, "junk"); err == nil {
		t.Fatal("a's data from before the snapshot survived")
	}
	if got, err := types(b, "orders"); err != nil || got != "4 [B]" || b.Applied() != 1 {
		t.Fatalf("b after a's recovery: %s, %v, applied %d", got, err, b.Applied())
	}
}

// A recovery interrupted half way (here stopped, as dragonboat stops it at
// shutdown) is dropped whole at the next Open, after a restart of the
// engine; the other store is untouched.
func TestInterruptedRecoveryIsDropped(t *testing.T) {
	dir := t.TempDir()
	eng, err := OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := openIn(t, eng, 1, "")
	b, _ := openIn(t, eng, 2, "")
	fill(t, a, 1, "A", 3, "orders")
	fill(t, b, 1, "B", 4, "orders")
	stop := make(chan struct{})
	close(stop)
	snap := append([]byte("LBS1"), 2, 'x', 1, 'y', 0)
	if err := a.RecoverFromSnapshot(bytes.NewReader(snap), stop); !errors.Is(err, dbsm.ErrSnapshotStopped) {
		t.Fatalf("stopped recovery: %v", err)
	}
	a.Close()
	b.Close()
	eng.Close()
	eng, err = OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if n := rangeKeys(t, eng, 1); n != 1 {
		t.Fatalf("a's range holds %d keys before Open, want the marker only", n)
	}
	a, applied := openIn(t, eng, 1, "")
	defer a.Close()
	if applied != 0 || rangeKeys(t, eng, 1) != 0 {
		t.Fatalf("after the interrupted recovery: applied %d, %d keys", applied, rangeKeys(t, eng, 1))
	}
	b, applied = openIn(t, eng, 2, "")
	defer b.Close()
	if got, err := types(b, "orders"); err != nil || got != "4 [B]" || applied != 1 {
		t.Fatalf("b: %s, %v, applied %d", got, err, applied)
	}
}

// Removing a replica deletes its range and frees its space; the other
// store keeps all of its data.
func TestRemoveReplicaFreesItsRange(t *testing.T) {
	eng := testEngine(t, t.TempDir())
	a, _ := openIn(t, eng, 1, "")
	defer a.Close()
	b, _ := openIn(t, eng, 2, "")
	next := uint64(1)
	for i := range 20 {
		next = fill(t, b, next, "B", 200, fmt.Sprint("s-", i))
	}
	fill(t, a, 1, "A", 3, "orders")
	if err := eng.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if shards, err := eng.Shards(); err != nil || fmt.Sprint(shards) != "[1 2]" {
		t.Fatalf("shards: %v, %v", shards, err)
	}
	sp := replicaSpan(2, 1)
	before, _ := eng.db.EstimateDiskUsage(sp.lo, sp.hi)
	if before < 64<<10 {
		t.Fatalf("b takes %d bytes, want over 64 KiB for the test to mean anything", before)
	}
	b.Close()
	if err := eng.RemoveReplica(2, 1); err != nil {
		t.Fatal(err)
	}
	after, _ := eng.db.EstimateDiskUsage(sp.lo, sp.hi)
	if after > before/20 {
		t.Fatalf("b's range takes %d bytes after removal (%d before)", after, before)
	}
	if n := rangeKeys(t, eng, 2); n != 0 {
		t.Fatalf("%d keys of b are left", n)
	}
	if shards, err := eng.Shards(); err != nil || fmt.Sprint(shards) != "[1]" {
		t.Fatalf("shards after b's removal: %v, %v", shards, err)
	}
	if got, err := types(a, "orders"); err != nil || got != "3 [A]" {
		t.Fatalf("a after b's removal: %s, %v", got, err)
	}
	b, applied := openIn(t, eng, 2, "")
	defer b.Close()
	if applied != 0 || len(readAll(t, b)) != 0 {
		t.Fatalf("b reopened after removal: applied %d", applied)
	}
}

// makeLegacy writes a store directory as builds before the shared engine
// did (format 1): dir/CURRENT naming dir/db-1, a Pebble database of the
// store keys without prefix. The keys are those of a state machine that
// applied fn's entries.
func makeLegacy(t *testing.T, dir string, fn func(s *StateMachine)) {
	t.Helper()
	s, _ := open(t, t.TempDir())
	defer s.Close()
	fn(s)
	db, err := pebble.Open(filepath.Join(dir, "db-1"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := s.snapshot()
	defer snap.Close()
	it := snap.NewIter(nil)
	for ok := it.First(); ok; ok = it.Next() {
		db.Set(it.Key(), it.Value(), nil)
	}
	it.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("db-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A store's old directory is migrated into the engine at Open: same
// applied index and data, the old directory gone. A migration stopped
// before its marker (a crash) leaves the old directory whole and runs
// again at the next Open.
func TestMigrateLegacyDirectory(t *testing.T) {
	legacy := filepath.Join(t.TempDir(), "stores", "orders")
	makeLegacy(t, legacy, func(s *StateMachine) { fill(t, s, 1, "L", 7, "orders", "other") })
	dir := t.TempDir()
	eng, err := OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := openIn(t, eng, 1, "")
	defer other.Close()
	fill(t, other, 1, "O", 2, "orders")

	crash := errors.New("crash before the marker")
	migrateHook = func() error { return crash }
	_, err = New(eng, 2, 1, legacy, wire.DefaultLimits()).Open(nil)
	migrateHook = nil
	if !errors.Is(err, crash) {
		t.Fatalf("open with the crash hook: %v", err)
	}
	if _, err := os.Stat(filepath.Join(legacy, "db-1")); err != nil {
		t.Fatalf("the old directory is gone before the migration completed: %v", err)
	}
	// The restart after the crash.
	other.Close()
	eng.Close()
	eng, err = OpenEngine(dir, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, applied := openIn(t, eng, 2, legacy)
	if applied != 2 {
		t.Fatalf("migrated store applied %d, want 2", applied)
	}
	if got, err := types(s, "orders"); err != nil || got != "7 [L]" || len(readAll(t, s)) != 14 {
		t.Fatalf("migrated orders: %s, %v, %d events", got, err, len(readAll(t, s)))
	}
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old directory is still there: %v", err)
	}
	fill(t, s, 3, "N", 1, "orders") // takes writes
	if got, _ := types(s, "orders"); got != "8 [L]" {
		t.Fatalf("after an append: %s", got)
	}
	s.Close()
	other, _ = openIn(t, eng, 1, "")
	defer other.Close()
	if got, err := types(other, "orders"); err != nil || got != "2 [O]" {
		t.Fatalf("the other store: %s, %v", got, err)
	}

	// A crash after the marker and before the old directory was removed:
	// the next Open removes the directory and copies nothing from it.
	makeLegacy(t, legacy, func(s *StateMachine) { fill(t, s, 1, "X", 1, "orders") })
	b := &kvBatch{b: eng.db.NewBatch(), sp: replicaSpan(2, 1)}
	b.Set(keyMigrated, nil, nil)
	if err := b.b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.b.Close()
	s, applied = openIn(t, eng, 2, legacy)
	defer s.Close()
	if got, _ := types(s, "orders"); got != "8 [L]" || applied != 3 {
		t.Fatalf("after a crash past the marker: %s, applied %d", got, applied)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old directory is still there: %v", err)
	}
	snap := s.snapshot()
	defer snap.Close()
	if _, ok, _ := get(snap, keyMigrated); ok {
		t.Fatal("the migration marker stayed")
	}
}

// An old store directory that lost its CURRENT file, or whose CURRENT names
// a missing database, is refused: never replaced by an empty store, never
// deleted.
func TestMigrateRefusesBrokenDirectory(t *testing.T) {
	legacy := filepath.Join(t.TempDir(), "s")
	makeLegacy(t, legacy, func(s *StateMachine) { fill(t, s, 1, "L", 1, "x") })
	eng := testEngine(t, t.TempDir())
	try := func(what string) {
		t.Helper()
		if _, err := New(eng, 2, 1, legacy, wire.Limits{}).Open(nil); err == nil {
			t.Fatalf("opened a store whose old directory %s", what)
		}
		if _, err := os.Stat(filepath.Join(legacy, "db-1")); err != nil {
			t.Fatalf("db-1 was removed: %v", err)
		}
	}
	os.Rename(filepath.Join(legacy, "CURRENT"), filepath.Join(legacy, "CURRENT.bak"))
	try("has no CURRENT")
	os.WriteFile(filepath.Join(legacy, "CURRENT"), []byte("db-7\n"), 0o644)
	try("names a missing database")
	os.WriteFile(filepath.Join(legacy, "CURRENT"), []byte("\n"), 0o644)
	try("has an empty CURRENT")
	os.Rename(filepath.Join(legacy, "CURRENT.bak"), filepath.Join(legacy, "CURRENT"))
	s, applied := openIn(t, eng, 2, legacy)
	defer s.Close()
	if applied != 1 {
		t.Fatalf("applied %d once CURRENT is back", applied)
	}
}

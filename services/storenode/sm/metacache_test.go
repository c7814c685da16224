package sm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// The stream metadata cache never changes an outcome: the same entries
// applied by a replica that keeps its cache and by one reopened before
// every Update (so that it reads every stream from Pebble) give the same
// results, with appends, deletes, failed expectations, several commands on
// one stream in one entry, and a cache small enough to evict.
func TestMetaCacheChangesNoOutcome(t *testing.T) {
	old := metaCacheMax
	metaCacheMax = 3
	defer func() { metaCacheMax = old }()

	cached, _ := open(t, t.TempDir())
	defer cached.Close()
	dir := t.TempDir()
	cold, _ := open(t, dir)
	defer func() { cold.Close() }()

	rng := rand.New(rand.NewPCG(1, 2))
	rev := map[string]uint64{}
	failures := 0
	for idx := uint64(1); idx <= 60; idx++ {
		var cmds []Command
		for range 1 + rng.IntN(6) {
			name := fmt.Sprintf("s%d", rng.IntN(8))
			switch k := rng.IntN(10); {
			case k == 0:
				cmds = append(cmds, Command{Op: OpDelete, Stream: name, Expect: ExpectAny})
			case k < 4:
				cmds = append(cmds, appendCmd(name, ExpectExact, rev[name]+uint64(rng.IntN(2)), 1+rng.IntN(2)))
			case k < 6:
				cmds = append(cmds, appendCmd(name, ExpectNoStream, 0, 1))
			default:
				cmds = append(cmds, appendCmd(name, ExpectAny, 0, 1))
			}
		}
		e := entry(t, idx, int64(idx), cmds...)
		esA, err := cached.Update([]dbsm.Entry{e})
		if err != nil {
			t.Fatal(err)
		}
		cold.Close()
		cold, _ = open(t, dir)
		esB, err := cold.Update([]dbsm.Entry{e})
		if err != nil {
			t.Fatal(err)
		}
		a, b := results(t, esA[0]), results(t, esB[0])
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("entry %d: cached replica answered %+v, uncached %+v", idx, a, b)
		}
		for i, r := range a {
			if r.Code != 0 {
				failures++
				continue
			}
			if cmds[i].Op == OpAppend {
				rev[cmds[i].Stream] = as[AppendResult](t, r).LastRevision
			}
		}
	}
	if failures == 0 || failures == 60 {
		t.Fatalf("%d failed commands: the mix exercises nothing", failures)
	}
	for name := range rev {
		a, errA := cached.Lookup(GetStream{Stream: name})
		b, errB := cold.Lookup(GetStream{Stream: name})
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("stream %s: %+v (%v) vs %+v (%v)", name, a, errA, b, errB)
		}
	}
}

// Recovering from a snapshot forgets the cached metadata: a stream the
// replica had written further than the snapshot has it is read anew.
func TestMetaCacheForgottenOnSnapshotRecovery(t *testing.T) {
	src, _ := open(t, t.TempDir())
	defer src.Close()
	src.Update([]dbsm.Entry{entry(t, 1, 1, appendCmd("x", ExpectNoStream, 0, 2))}) // x at revision 1
	buf := saveSnapshot(t, src)

	dst, _ := open(t, t.TempDir())
	defer dst.Close()
	dst.Update([]dbsm.Entry{entry(t, 1, 1, appendCmd("x", ExpectNoStream, 0, 6))}) // x at revision 5, cached
	if err := dst.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	es, err := dst.Update([]dbsm.Entry{entry(t, 2, 2, appendCmd("x", ExpectExact, 1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if r := as[AppendResult](t, results(t, es[0])[0]); r.FirstRevision != 2 {
		t.Fatalf("append after recovery: %+v", r)
	}
}

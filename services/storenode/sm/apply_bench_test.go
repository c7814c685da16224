package sm

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
)

// BenchmarkApply64 applies entries of 64 one-event appends, each expecting
// its stream's last revision, to 1,024 existing streams: what every replica
// does per Raft entry in lbcluster's 1-store, 64-client scenario. Reported
// per append; the entries are encoded before the clock starts.
func BenchmarkApply64(b *testing.B) {
	const streams, perEntry = 1024, 64
	s := New(testEngine(b, b.TempDir()), 1, 1, "", wire.DefaultLimits())
	if _, err := s.Open(nil); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 256)
	idx := uint64(0)
	rev := make([]uint64, streams)
	encodeEntry := func(cmds []Command) dbsm.Entry {
		idx++
		e, err := EncodeBatch(&Batch{Time: int64(idx), Cmds: cmds})
		if err != nil {
			b.Fatal(err)
		}
		return dbsm.Entry{Index: idx, Cmd: e}
	}
	update := func(e dbsm.Entry) {
		es, err := s.Update([]dbsm.Entry{e})
		if err != nil {
			b.Fatal(err)
		}
		rs, err := DecodeResults(es[0].Result.Data)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if r.Code != 0 {
				b.Fatalf("append failed: %+v", r)
			}
		}
	}
	cmd := func(i int, expect uint8) Command {
		return Command{Op: OpAppend, Stream: fmt.Sprintf("stream-%d", i), Expect: expect, Revision: rev[i],
			Events: []EventCmd{{ID: uuid.New(), Type: "Bench", Data: data}}}
	}
	for i := 0; i < streams; i += perEntry { // create the streams
		cmds := make([]Command, 0, perEntry)
		for j := i; j < i+perEntry; j++ {
			cmds = append(cmds, cmd(j, ExpectNoStream))
		}
		update(encodeEntry(cmds))
	}
	// Enough history that the streams' keys are not all in the memtable.
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	entries := make([]dbsm.Entry, b.N) // made before the clock starts
	next := 0
	for n := range entries {
		cmds := make([]Command, perEntry)
		for k := range cmds {
			cmds[k] = cmd(next, ExpectExact)
			rev[next]++
			next = (next + 1) % streams
		}
		entries[n] = encodeEntry(cmds)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		update(entries[n])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perEntry, "ns/append")
}

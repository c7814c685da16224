package sm

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
)

// BenchmarkAppendOverHistory applies one-event appends (entries of 64, new
// event ids, as clients send) to a store whose history of 200,000 events
// is flushed to the engine's tables: the idempotency lookup of every new
// id then has to look beyond the memtables. Reported per append.
func BenchmarkAppendOverHistory(b *testing.B) {
	const history, perEntry, streams = 200_000, 64, 1024
	e := testEngine(b, b.TempDir())
	s := New(e, 1, 1, "", wire.DefaultLimits())
	if _, err := s.Open(nil); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 256)
	idx := uint64(0)
	entry := func() dbsm.Entry {
		cmds := make([]Command, perEntry)
		for k := range cmds {
			cmds[k] = Command{Op: OpAppend, Stream: fmt.Sprintf("stream-%d", (int(idx)*perEntry+k)%streams), Expect: ExpectAny,
				Events: []EventCmd{{ID: uuid.New(), Type: "Bench", Data: data}}}
		}
		idx++
		enc, err := EncodeBatch(&Batch{Time: int64(idx), Cmds: cmds})
		if err != nil {
			b.Fatal(err)
		}
		return dbsm.Entry{Index: idx, Cmd: enc}
	}
	for range history / perEntry {
		if _, err := s.Update([]dbsm.Entry{entry()}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	entries := make([]dbsm.Entry, b.N)
	for n := range entries {
		entries[n] = entry()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		if _, err := s.Update(entries[n : n+1]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perEntry, "ns/append")
}

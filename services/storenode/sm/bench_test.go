package sm

import (
	"fmt"
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/wire"
)

// seedInterleaved writes n events to stream "target" interleaved with events
// of other streams, the layout a busy store has.
func seedInterleaved(b *testing.B, s *StateMachine, n int) {
	b.Helper()
	idx := uint64(0)
	for i := 0; i < n; i += 10 {
		cmds := []Command{appendCmd("target", ExpectAny, 0, 10)}
		for j := range 10 {
			cmds = append(cmds, appendCmd(fmt.Sprintf("other-%d", j), ExpectAny, 0, 1))
		}
		idx++
		b2, _ := EncodeBatch(&Batch{Time: int64(idx), Cmds: cmds})
		if _, err := s.Update([]dbsm.Entry{{Index: idx, Cmd: b2}}); err != nil {
			b.Fatal(err)
		}
	}
}

// seeded1000 is a state machine holding 1,000 events of stream "target"
// among as many of other streams (seedInterleaved), closed at the end.
func seeded1000(b *testing.B) *StateMachine {
	b.Helper()
	s := New(testEngine(b, b.TempDir()), 1, 1, "", wire.DefaultLimits())
	if _, err := s.Open(nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	seedInterleaved(b, s, 1000)
	return s
}

// BenchmarkReadStream1000 reads 1,000 events of one stream in one page, the
// storenode's share of the lbbench read scenario.
func BenchmarkReadStream1000(b *testing.B) {
	s := seeded1000(b)
	q := ReadStream{Stream: "target", Count: 4096}
	b.ResetTimer()
	for range b.N {
		v, err := s.Lookup(q)
		if err != nil || len(v.(*StreamPage).Events) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/event")
}

// BenchmarkReadAll1000 reads 1,000 events of $all in one page.
func BenchmarkReadAll1000(b *testing.B) {
	s := seeded1000(b)
	q := ReadAll{Count: 1000}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Lookup(q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/event")
}

// BenchmarkReadAllFiltered1000 reads 1,000 events of $all through a stream
// filter that half the scanned events fail (a catch-up of one category).
func BenchmarkReadAllFiltered1000(b *testing.B) {
	s := seeded1000(b)
	q := ReadAll{Count: 1000, Filter: &Filter{Stream: "target"}}
	b.ResetTimer()
	for range b.N {
		v, err := s.Lookup(q)
		if err != nil || len(v.(*AllPage).Events) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/event")
}

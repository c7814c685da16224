package sm

import "testing"

// BenchmarkResults64 is the results' share of one 64-command entry on its
// way back to the proposer: the apply's results encoded into dragonboat's
// result, decoded by the proposer, and each read back as an AppendResult.
func BenchmarkResults64(b *testing.B) {
	rs := make([]Result, 64)
	for i := range rs {
		rs[i] = successResult(AppendResult{FirstRevision: uint64(i), LastRevision: uint64(i), FirstPosition: 1 << 20, LastPosition: 1 << 20, Timestamp: 1 << 60})
	}
	b.ReportAllocs()
	for range b.N {
		out, err := DecodeResults(EncodeResults(rs))
		if err != nil || len(out) != len(rs) {
			b.Fatal(err)
		}
		for i := range out {
			if r, err := ResultAs[AppendResult](out[i]); err != nil || r.FirstRevision != uint64(i) {
				b.Fatal(err)
			}
		}
	}
}

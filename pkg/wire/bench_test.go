package wire_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/logbookdb/logbook/pkg/wire"
)

// BenchmarkDecodeAppend measures the decoder on the hot path: an append of
// 1 and of 100 events with client-chosen ids and a 200-byte payload each.
func BenchmarkDecodeAppend(b *testing.B) {
	for _, n := range []int{1, 100} {
		req := wire.AppendRequest{Stream: "order-1001", ExpectedState: wire.ExpectAny}
		for i := range n {
			req.Events = append(req.Events, wire.EventData{
				ID: fmt.Sprintf("6ba7b810-9dad-11d1-80b4-%012d", i), Type: "OrderPlaced",
				Data: bytes.Repeat([]byte("x"), 200), DataContentType: "application/json",
			})
		}
		data, err := wire.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		l := wire.DefaultLimits()
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := wire.DecodeAppend(data, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package wire_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

func u64p(v uint64) *uint64 { return &v }

func TestLiveHeadersRoundTrip(t *testing.T) {
	for _, h := range []wire.LiveHeaders{
		{Position: 0, Revision: 0, Epoch: "0123456789abcdef", EpochStart: 0},
		{Position: 42, Revision: 7, Epoch: "e", EpochStart: 10, PrevCategory: u64p(41), PrevType: u64p(10)},
		{Position: 1<<64 - 1, Revision: 1<<64 - 1, Epoch: "x", EpochStart: 1<<64 - 1},
	} {
		got, err := wire.ParseLiveHeaders(h.Header())
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		if !reflect.DeepEqual(*got, h) {
			t.Errorf("round trip of %+v gave %+v", h, *got)
		}
	}
}

func TestLiveHeadersReject(t *testing.T) {
	good := func() nats.Header {
		h := wire.LiveHeaders{Position: 10, Revision: 3, Epoch: "ab", EpochStart: 5, PrevCategory: u64p(7), PrevType: u64p(5)}
		return h.Header()
	}
	cases := map[string]func(nats.Header){
		"no position":          func(h nats.Header) { h.Del(wire.HeaderPosition) },
		"no revision":          func(h nats.Header) { h.Del(wire.HeaderRevision) },
		"no epoch":             func(h nats.Header) { h.Del(wire.HeaderEpoch) },
		"no epoch start":       func(h nats.Header) { h.Del(wire.HeaderEpochStart) },
		"two positions":        func(h nats.Header) { h.Add(wire.HeaderPosition, "11") },
		"negative":             func(h nats.Header) { h.Set(wire.HeaderRevision, "-1") },
		"plus sign":            func(h nats.Header) { h.Set(wire.HeaderRevision, "+1") },
		"leading zero":         func(h nats.Header) { h.Set(wire.HeaderRevision, "01") },
		"overflow":             func(h nats.Header) { h.Set(wire.HeaderPosition, "18446744073709551616") },
		"hex":                  func(h nats.Header) { h.Set(wire.HeaderPosition, "0x10") },
		"empty epoch":          func(h nats.Header) { h.Set(wire.HeaderEpoch, "") },
		"epoch with space":     func(h nats.Header) { h.Set(wire.HeaderEpoch, "a b") },
		"long epoch":           func(h nats.Header) { h.Set(wire.HeaderEpoch, string(make([]byte, 65))) },
		"start after position": func(h nats.Header) { h.Set(wire.HeaderEpochStart, "11") },
		"prev at position":     func(h nats.Header) { h.Set(wire.HeaderPrevCategory, "10") },
		"prev before start":    func(h nats.Header) { h.Set(wire.HeaderPrevType, "4") },
		"prev not a number":    func(h nats.Header) { h.Set(wire.HeaderPrevType, "x") },
	}
	for name, mutate := range cases {
		h := good()
		mutate(h)
		_, err := wire.ParseLiveHeaders(h)
		if !errors.Is(err, codes.ErrMalformedRequest) {
			t.Errorf("%s: %v, want malformed_request", name, err)
		}
	}
	if _, err := wire.ParseLiveHeaders(good()); err != nil {
		t.Fatalf("the unmutated headers: %v", err)
	}
}

func FuzzParseLiveHeaders(f *testing.F) {
	f.Add("10", "3", "ab", "5", "7", "5")
	f.Add("0", "0", "0123456789abcdef", "0", "", "")
	f.Add("18446744073709551615", "1", "e", "1", "x", "01")
	f.Fuzz(func(t *testing.T, pos, rev, epoch, start, pc, pt string) {
		hd := nats.Header{}
		for k, v := range map[string]string{
			wire.HeaderPosition: pos, wire.HeaderRevision: rev, wire.HeaderEpoch: epoch,
			wire.HeaderEpochStart: start, wire.HeaderPrevCategory: pc, wire.HeaderPrevType: pt,
		} {
			if v != "" || k == wire.HeaderEpoch {
				hd.Set(k, v)
			}
		}
		h, err := wire.ParseLiveHeaders(hd)
		if err != nil {
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Code != codes.MalformedRequest {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if h.EpochStart > h.Position || h.Epoch == "" {
			t.Fatalf("accepted inconsistent headers %+v", h)
		}
		for _, p := range []*uint64{h.PrevCategory, h.PrevType} {
			if p != nil && (*p >= h.Position || *p < h.EpochStart) {
				t.Fatalf("accepted a previous position out of range: %+v", h)
			}
		}
		again, err := wire.ParseLiveHeaders(h.Header())
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("re-encoding %+v gave %+v, %v", h, again, err)
		}
	})
}

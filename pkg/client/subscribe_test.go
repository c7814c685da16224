package client

import (
	"testing"

	"github.com/logbookdb/logbook/pkg/wire"
)

func u64(v uint64) *uint64 { return &v }

// The gap rules of schemas/live-events.md, one case per rule.
func TestSubscriptionGap(t *testing.T) {
	cases := []struct {
		name   string
		filter SubscribeFilter
		next   uint64
		h      wire.LiveHeaders
		gap    bool
	}{
		{"all: next position", SubscribeFilter{}, 10, wire.LiveHeaders{Position: 10}, false},
		{"all: jump", SubscribeFilter{}, 10, wire.LiveHeaders{Position: 12}, true},
		{"all: new epoch at our position", SubscribeFilter{}, 10, wire.LiveHeaders{Position: 10, Epoch: "b", EpochStart: 10}, false},
		{"stream: next revision", SubscribeFilter{Stream: "s-1"}, 3, wire.LiveHeaders{Position: 50, Revision: 3}, false},
		{"stream: revision jump", SubscribeFilter{Stream: "s-1"}, 3, wire.LiveHeaders{Position: 50, Revision: 5}, true},
		{"category: previous delivered", SubscribeFilter{Category: "s"}, 21, wire.LiveHeaders{Position: 30, PrevCategory: u64(20)}, false},
		{"category: previous missed", SubscribeFilter{Category: "s"}, 21, wire.LiveHeaders{Position: 30, PrevCategory: u64(25)}, true},
		{"category: first of an epoch that started before next", SubscribeFilter{Category: "s"}, 21, wire.LiveHeaders{Position: 30, EpochStart: 15}, false},
		{"category: first of an epoch that started after next", SubscribeFilter{Category: "s"}, 21, wire.LiveHeaders{Position: 30, EpochStart: 28}, true},
		{"type: previous delivered", SubscribeFilter{EventType: "T"}, 8, wire.LiveHeaders{Position: 9, PrevType: u64(7), PrevCategory: u64(8)}, false},
		{"type: previous missed", SubscribeFilter{EventType: "T"}, 8, wire.LiveHeaders{Position: 9, PrevType: u64(8)}, true},
		{"type: no previous, epoch start after next", SubscribeFilter{EventType: "T"}, 0, wire.LiveHeaders{Position: 9, EpochStart: 1}, true},
	}
	for _, c := range cases {
		s := &Subscription{filter: c.filter, next: c.next}
		if got := s.gap(&c.h); got != c.gap {
			t.Errorf("%s: gap = %v, want %v", c.name, got, c.gap)
		}
	}
}

func TestFilterSubject(t *testing.T) {
	for _, c := range []struct {
		f    SubscribeFilter
		want string
	}{
		{SubscribeFilter{}, "events.s.>"},
		{SubscribeFilter{Stream: "order-1"}, "events.s.order.order-1.*"},
		{SubscribeFilter{Category: "a.b"}, "events.s.a~2Eb.>"},
		{SubscribeFilter{EventType: "Placed"}, "events.s.*.*.Placed"},
	} {
		got, err := filterSubject("s", c.f)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.f, got, err, c.want)
		}
	}
}

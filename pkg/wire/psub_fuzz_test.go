package wire_test

// Fuzz targets for the decoders of persistent subscriptions (psub.go). They
// use the helpers of fuzz_test.go and are seeded, in addition, with the
// vectors of schemas/testdata/psub.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// psubDecodeCodes are the codes a persistent subscription decoder may return.
var psubDecodeCodes = map[codes.Code]bool{
	codes.MalformedRequest:        true,
	codes.InvalidArgument:         true,
	codes.InvalidSubscriptionName: true,
	codes.InvalidFilter:           true,
	codes.RequestTooLarge:         true,
}

var subscriptionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func addPSubSeeds(f *testing.F) {
	addSeeds(f)
	for _, pattern := range []string{"psub/*.msgpack", "psub/invalid/*.msgpack"} {
		files, err := filepath.Glob(filepath.Join(testdataDir, pattern))
		if err != nil {
			f.Fatal(err)
		}
		if len(files) == 0 {
			f.Fatalf("no seeds match %s in %s", pattern, testdataDir)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			if len(b) <= maxSeedSize {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		// {"subscription": "s", "filter": {"stream": "a", "category": "b"}}
		"\x82\xacsubscription\xa1s\xa6filter\x82\xa6stream\xa1a\xa8category\xa1b",
		// {"subscription": "s", "consumer": "c", "positions": [0], "action": "retry_later", "delay_ms": 0}
		"\x85\xacsubscription\xa1s\xa8consumer\xa1c\xa9positions\x91\x00\xa6action\xabretry_later\xa8delay_ms\x00",
		// {"subscription": "s", "consumer": "c", "deliver": "_INBOX.a.b"}
		"\x83\xacsubscription\xa1s\xa8consumer\xa1c\xa7deliver\xaa_INBOX.a.b",
	} {
		f.Add([]byte(s))
	}
}

func checkSubscriptionName(t *testing.T, name string) {
	t.Helper()
	if !subscriptionName.MatchString(name) {
		t.Fatalf("accepted subscription or consumer name %q", name)
	}
}

func checkSettings(t *testing.T, s *wire.SubscriptionSettings) {
	t.Helper()
	if s == nil {
		return
	}
	in := func(v *int64, lo, hi int64) bool { return v == nil || (*v >= lo && *v <= hi) }
	if !in(s.MaxInFlight, 1, 10_000) || !in(s.AckTimeoutMs, 10, 3_600_000) || !in(s.MaxRetries, 0, 1000) ||
		!slices.Contains([]string{"", "round_robin", "pinned"}, s.Strategy) {
		t.Fatalf("accepted settings %+v", s)
	}
}

func checkTextField(t *testing.T, field, s string, max int) {
	t.Helper()
	if len(s) > max || !validText(s) {
		t.Fatalf("accepted %s %q", field, s)
	}
}

// validText: UTF-8 without control characters (checked independently of validate.go).
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

func FuzzDecodeCreateSubscription(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, noCount(wire.DecodeCreateSubscription), func(t *testing.T, r *wire.CreateSubscriptionRequest, _ int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			if f := r.Filter; f != nil {
				if f.Stream != "" {
					checkStream(t, f.Stream)
					if f.StreamPrefix != "" || f.Category != "" {
						t.Fatalf("accepted stream with stream_prefix or category: %+v", f)
					}
				}
				checkTextField(t, "stream_prefix", f.StreamPrefix, 512)
				checkTextField(t, "category", f.Category, 512)
				if strings.Contains(f.Category, "-") || len(f.EventTypes) > 100 {
					t.Fatalf("accepted filter %+v", f)
				}
				for _, typ := range f.EventTypes {
					if typ == "" {
						t.Fatal("accepted an empty event type")
					}
					checkTextField(t, "event type", typ, 256)
				}
			}
			switch r.Start {
			case "start", "end":
				if r.StartPosition != nil {
					t.Fatalf("start %s with start_position", r.Start)
				}
			case "position":
				if r.StartPosition == nil || *r.StartPosition < 0 || *r.StartPosition > 1<<63-2 {
					t.Fatalf("start position with start_position %v", r.StartPosition)
				}
			default:
				t.Fatalf("start %q not normalised", r.Start)
			}
			checkSettings(t, r.Settings)
		})
	})
}

func FuzzDecodeUpdateSubscription(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, noCount(wire.DecodeUpdateSubscription), func(t *testing.T, r *wire.UpdateSubscriptionRequest, _ int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			checkSettings(t, r.Settings)
		})
	})
}

func FuzzDecodeSubscriptionRequest(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, noCount(wire.DecodeSubscriptionRequest), func(t *testing.T, r *wire.SubscriptionRequest, _ int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
		})
	})
}

func FuzzDecodeListSubscriptions(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, noCount(wire.DecodeListSubscriptions), func(t *testing.T, r *wire.ListSubscriptionsRequest, _ int, _ wire.Limits) {})
	})
}

func FuzzDecodeJoin(f *testing.F) {
	addPSubSeeds(f)
	decode := func(b []byte, l wire.Limits) (*wire.JoinRequest, int, error) {
		r, hb, err := wire.DecodeJoin(b, l)
		return r, int(hb), err
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, decode, func(t *testing.T, r *wire.JoinRequest, hb int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			checkSubscriptionName(t, r.Consumer)
			if !strings.HasPrefix(r.Deliver, "_INBOX") || len(r.Deliver) > 256 || strings.ContainsAny(r.Deliver, " \t\r\n*>") ||
				strings.Contains(r.Deliver, "..") || strings.HasSuffix(r.Deliver, ".") || !validText(r.Deliver) {
				t.Fatalf("accepted deliver %q", r.Deliver)
			}
			if hb < 50 || hb > 60_000 || (r.HeartbeatMs != nil && int(*r.HeartbeatMs) != hb) || (r.HeartbeatMs == nil && hb != 1000) {
				t.Fatalf("heartbeat %d from %v", hb, r.HeartbeatMs)
			}
		})
	})
}

func FuzzDecodeAck(f *testing.F) {
	addPSubSeeds(f)
	decode := func(b []byte, l wire.Limits) (*wire.AckRequest, int, error) {
		r, d, err := wire.DecodeAck(b, l)
		return r, int(d), err
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, decode, func(t *testing.T, r *wire.AckRequest, delay int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			checkSubscriptionName(t, r.Consumer)
			if len(r.Positions) == 0 || len(r.Positions) > 1000 {
				t.Fatalf("accepted %d positions", len(r.Positions))
			}
			for _, p := range r.Positions {
				if p < 0 || p > 1<<63-2 {
					t.Fatalf("accepted position %d", p)
				}
			}
			if !slices.Contains([]string{"ack", "retry", "retry_later", "park", "skip"}, r.Action) {
				t.Fatalf("action %q", r.Action)
			}
			if r.DelayMs != nil && (r.Action != "retry_later" || *r.DelayMs < 0 || *r.DelayMs > 3_600_000) {
				t.Fatalf("accepted delay_ms %d with %s", *r.DelayMs, r.Action)
			}
			if (r.Action == "retry_later") != (delay > 0 || r.DelayMs != nil) {
				t.Fatalf("delay %d with action %s", delay, r.Action)
			}
		})
	})
}

func FuzzDecodeParked(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, wire.DecodeParked, func(t *testing.T, r *wire.ParkedRequest, limit int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			if r.After != nil && (*r.After < 0 || *r.After > 1<<63-2) {
				t.Fatalf("accepted after %d", *r.After)
			}
			if limit < 1 || limit > 1000 {
				t.Fatalf("limit %d", limit)
			}
		})
	})
}

func FuzzDecodeReplay(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, psubDecodeCodes, data, wire.DecodeReplay, func(t *testing.T, r *wire.ReplayRequest, n int, _ wire.Limits) {
			checkSubscriptionName(t, r.Subscription)
			if n < 1 || n > 10_000 {
				t.Fatalf("max_count %d", n)
			}
		})
	})
}

// FuzzDecodeDelivery: a consumer decodes whatever arrives on its inbox.
func FuzzDecodeDelivery(f *testing.F) {
	addPSubSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := wire.DecodeDelivery(data)
		if err != nil {
			checkError(t, err, map[codes.Code]bool{codes.MalformedRequest: true, codes.InvalidArgument: true})
			return
		}
		if d.Subscription == "" || d.DeliveryCount == 0 {
			t.Fatalf("accepted delivery %+v", d)
		}
	})
}

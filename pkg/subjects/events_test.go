package subjects

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logbookdb/logbook/pkg/codes"
)

func TestEscapeToken(t *testing.T) {
	cases := []struct{ in, want string }{
		{"order", "order"},
		{"order-42", "order-42"},
		{"", "~"},
		{"a.b", "a~2Eb"},
		{"a*b>c", "a~2Ab~3Ec"},
		{"~", "~7E"},
		{"~7E", "~7E7E"},
		{"two words", "two~20words"},
		{"tab\there", "tab~09here"},
		{"é", "~C3~A9"},
		{"$all", "$all"},
		{"a/b:c_d#e@f", "a/b:c_d#e@f"},
		{"\x7f", "~7F"},
		{"\x00", "~00"},
	}
	for _, c := range cases {
		got := EscapeToken(c.in)
		if got != c.want {
			t.Errorf("EscapeToken(%q) = %q, want %q", c.in, got, c.want)
		}
		back, err := UnescapeToken(got)
		if err != nil || back != c.in {
			t.Errorf("UnescapeToken(%q) = %q, %v; want %q", got, back, err, c.in)
		}
	}
}

func TestUnescapeTokenRejects(t *testing.T) {
	for _, tok := range []string{
		"",       // no token at all
		"a.b",    // separator
		"a*",     // wildcard
		">",      // wildcard
		"a b",    // whitespace
		"é",      // raw non-ASCII
		"~2e",    // lower-case hex
		"~2",     // truncated escape
		"a~",     // escape at the end
		"~G0",    // not hex
		"~41",    // escapes a safe byte ('A')
		"~~",     // escape char without an escape
		"x\x00y", // control byte
	} {
		_, err := UnescapeToken(tok)
		if !errors.Is(err, codes.ErrInvalidArgument) {
			t.Errorf("UnescapeToken(%q): %v, want invalid_argument", tok, err)
		}
	}
}

func TestEventSubjects(t *testing.T) {
	cases := []struct {
		stream, typ, want string
	}{
		{"order-42", "OrderPlaced", "events.s1.order.order-42.OrderPlaced"},
		{"inventory", "Added", "events.s1.inventory.inventory.Added"},
		{"-x", "T", "events.s1.~.-x.T"},
		{"a.b-c d", "x.y", "events.s1.a~2Eb.a~2Eb-c~20d.x~2Ey"},
		{"ünï-1", "t>", "events.s1.~C3~BCn~C3~AF.~C3~BCn~C3~AF-1.t~3E"},
	}
	for _, c := range cases {
		got := Event("s1", c.stream, c.typ)
		if got != c.want {
			t.Errorf("Event(%q, %q) = %q, want %q", c.stream, c.typ, got, c.want)
		}
		store, stream, typ, err := ParseEvent(got)
		if err != nil || store != "s1" || stream != c.stream || typ != c.typ {
			t.Errorf("ParseEvent(%q) = %q %q %q %v", got, store, stream, typ, err)
		}
		for _, filter := range []string{
			EventsOfStore("s1"), EventsOfCategory("s1", category(c.stream)),
			EventsOfStream("s1", c.stream), EventsOfType("s1", c.typ), EventsAll,
		} {
			if !matches(filter, got) {
				t.Errorf("%q does not match %q", filter, got)
			}
		}
		for _, filter := range []string{
			EventsOfStore("s2"), EventsOfCategory("s1", category(c.stream)+"x"),
			EventsOfStream("s1", c.stream+"x"), EventsOfType("s1", c.typ+"x"),
		} {
			if matches(filter, got) {
				t.Errorf("%q matches %q", filter, got)
			}
		}
	}
}

// The layout must stay clear of the gateway's and the lifecycle subjects.
func TestEventSubjectsDoNotCollide(t *testing.T) {
	subj := Event("default", "order-1", "T")
	for _, w := range []string{StoreWildcard, StoresWildcard, StoreEventsAll, "_LB.>"} {
		if matches(w, subj) {
			t.Errorf("%q matches the live event subject %q", w, subj)
		}
	}
	if matches(EventsAll, Store("default", OpAppend)) || matches(EventsAll, StoreEvent("default", "created")) {
		t.Error("events.> matches a request or lifecycle subject")
	}
}

func TestParseEventRejects(t *testing.T) {
	for _, s := range []string{
		"events.s1.order.order-1",              // 3 tokens
		"events.s1.order.order-1.T.x",          // 5 tokens
		"store.s1.order.order-1.T",             // wrong prefix
		"events..order.order-1.T",              // empty store
		"events.s1.other.order-1.T",            // category is not the stream's
		"events.s1.~.~.T",                      // empty stream
		"events.s1.order.order-1.~2e",          // lower-case escape
		"events.s1.order.order-1.T~",           // truncated escape
		"events.s1.or~64er.or~64er-1.T",        // escaped safe byte
		"events.s1.order.order-1 x.T",          // whitespace
		"events.s1.order.order~2D1.OrderPlace", // '-' escaped
	} {
		_, _, _, err := ParseEvent(s)
		if !errors.Is(err, codes.ErrInvalidArgument) {
			t.Errorf("ParseEvent(%q): %v, want invalid_argument", s, err)
		}
	}
}

// matches implements NATS subject matching for the tests.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, ft := range f {
		if ft == ">" {
			return len(s) > i
		}
		if i >= len(s) || (ft != "*" && ft != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

// validToken reports whether tok is a NATS subject token a server accepts
// in a publish: non-empty, no separator, no wildcard, no whitespace.
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= 0x20 || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

func FuzzEscapeToken(f *testing.F) {
	for _, s := range []string{"", "order-1", "a.b", "~", "~7E", "é", " ", "*>", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EscapeToken(s)
		if !validToken(tok) {
			t.Fatalf("EscapeToken(%q) = %q is not one subject token", s, tok)
		}
		back, err := UnescapeToken(tok)
		if err != nil || back != s {
			t.Fatalf("UnescapeToken(EscapeToken(%q)) = %q, %v", s, back, err)
		}
		// Every token has at most one preimage: decoding then encoding an
		// accepted token gives it back.
		if d, err := UnescapeToken(s); err == nil {
			if EscapeToken(d) != s {
				t.Fatalf("token %q decodes to %q, which encodes to %q", s, d, EscapeToken(d))
			}
		} else {
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Code != codes.InvalidArgument {
				t.Fatalf("UnescapeToken(%q): untyped error %v", s, err)
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add("s1", "order-1", "T")
	f.Add("s1", "-x", "a.b")
	f.Add("s1", "é ~", ">")
	f.Fuzz(func(t *testing.T, store, stream, typ string) {
		subj := Event(store, stream, typ)
		gs, gst, gt, err := ParseEvent(subj)
		validStore := store != "" && !strings.ContainsAny(store, ".") && utf8.ValidString(store)
		if validStore && stream != "" {
			if err != nil || gs != store || gst != stream || gt != typ {
				t.Fatalf("ParseEvent(Event(%q, %q, %q)) = %q %q %q %v", store, stream, typ, gs, gst, gt, err)
			}
		}
		// Arbitrary strings as subjects: a typed error or a consistent parse.
		gs, gst, gt, err = ParseEvent(store)
		if err != nil {
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Code != codes.InvalidArgument {
				t.Fatalf("ParseEvent(%q): untyped error %v", store, err)
			}
			return
		}
		if Event(gs, gst, gt) != store {
			t.Fatalf("ParseEvent(%q) = %q %q %q, which builds %q", store, gs, gst, gt, Event(gs, gst, gt))
		}
	})
}

// A tenant's permissions cover its stores' requests and events and its own
// inbox, and match nothing of another store, the lifecycle, the cluster or
// the internal subjects.
func TestTenantPermissions(t *testing.T) {
	pub, sub := TenantPermissions([]string{"acme", "acme-eu"}, "_INBOX_acme")
	matches := func(patterns []string, subject string) bool {
		for _, p := range patterns {
			pt, st := strings.Split(p, "."), strings.Split(subject, ".")
			ok := true
			for i, tok := range pt {
				if tok == ">" {
					ok = ok && len(st) > i
					break
				}
				if i >= len(st) || (tok != "*" && tok != st[i]) {
					ok = false
					break
				}
				if i == len(pt)-1 && len(st) != len(pt) {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, s := range []string{Store("acme", OpAppend), Store("acme-eu", OpRead), Store("acme", StoreStatus)} {
		if !matches(pub, s) {
			t.Errorf("tenant may not publish %s", s)
		}
	}
	for _, s := range []string{Store("globex", OpAppend), Stores(StoresRemove), Stores(StoresStatus), "cluster.view", "_LB.leader.acme.append"} {
		if matches(pub, s) {
			t.Errorf("tenant may publish %s", s)
		}
	}
	if !matches(sub, "_INBOX_acme.x.y") || !matches(sub, "events.acme.orders.orders-1.Placed") {
		t.Errorf("subscribe %v misses the tenant's own subjects", sub)
	}
	for _, s := range []string{"_INBOX.x.y", "events.globex.a.b.c", "_LB.heartbeat", "stores.events.acme.created"} {
		if matches(sub, s) {
			t.Errorf("tenant may subscribe to %s", s)
		}
	}
}

package subjects

// Live events: every committed event is published once, by the store's
// leader, on
//
//	events.<store>.<category>.<stream>.<type>
//
// where <category>, <stream> and <type> are escaped with EscapeToken so that
// each is exactly one NATS subject token, whatever the name holds. A
// consumer selects with ordinary wildcards:
//
//	events.<store>.>                      every event of a store ($all)
//	events.<store>.<category>.>           a category
//	events.<store>.<category>.<stream>.*  one stream (the category follows from the name)
//	events.<store>.*.*.<type>             an event type
//	events.*.>                            every store
//
// The layout and the headers that travel with each event are documented in
// schemas/live-events.md. "events." collides with neither the gateway's
// "store.>" and "stores.*" nor the lifecycle events under "stores.events.".

import (
	"fmt"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
)

const (
	eventsPrefix = "events."
	// EventsAll matches every live event of every store.
	EventsAll = "events.>"
	// EmptyToken stands for an empty name (a stream starting with '-' has
	// an empty category). EscapeToken never produces it otherwise: an
	// escape is always '~' followed by two hex digits.
	EmptyToken = "~"
	escapeChar = '~'
	hexDigits  = "0123456789ABCDEF"
)

// safeByte reports whether b may appear unescaped in a token: printable
// ASCII except the NATS token separator and wildcards ('.', '*', '>') and
// the escape character itself. Whitespace, control characters and every
// byte of a non-ASCII character are escaped.
func safeByte(b byte) bool {
	return b > 0x20 && b < 0x7f && b != '.' && b != '*' && b != '>' && b != escapeChar
}

// EscapeToken maps any string to one NATS subject token, reversibly: every
// byte that is not safe becomes "~XX" (two upper-case hex digits), and the
// empty string becomes EmptyToken. UnescapeToken(EscapeToken(s)) == s for
// every s, and every token has at most one preimage.
func EscapeToken(s string) string {
	if s == "" {
		return EmptyToken
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escapeChar)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// UnescapeToken reverses EscapeToken. It accepts only the canonical form
// EscapeToken produces (upper-case hex, no escape of a safe byte, no
// unsafe byte left as is), so that the mapping stays one to one; anything
// else is an invalid_argument error.
func UnescapeToken(tok string) (string, error) {
	if tok == EmptyToken {
		return "", nil
	}
	if tok == "" {
		return "", codes.New(codes.InvalidArgument, "empty subject token")
	}
	if strings.IndexByte(tok, escapeChar) < 0 {
		for i := 0; i < len(tok); i++ {
			if !safeByte(tok[i]) {
				return "", codes.New(codes.InvalidArgument, "subject token has the unescaped byte 0x%02x at %d", tok[i], i)
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != escapeChar {
			if !safeByte(c) {
				return "", codes.New(codes.InvalidArgument, "subject token has the unescaped byte 0x%02x at %d", c, i)
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(tok) {
			return "", codes.New(codes.InvalidArgument, "subject token ends inside an escape at %d", i)
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return "", codes.New(codes.InvalidArgument, "subject token has a bad escape %q at %d (want ~ and two upper-case hex digits)", tok[i:i+3], i)
		}
		v := byte(hi<<4 | lo)
		if safeByte(v) {
			return "", codes.New(codes.InvalidArgument, "subject token escapes the safe byte %q at %d", v, i)
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// category is the part of a stream name before its first '-' (the whole
// name without one); the same rule as wire.Category.
func category(stream string) string {
	if i := strings.IndexByte(stream, '-'); i >= 0 {
		return stream[:i]
	}
	return stream
}

// Event returns the subject on which the event of the given type, appended
// to stream, is published in store. The store id is a single token already
// (wire.ValidateStoreID) and is used as is.
func Event(store, stream, eventType string) string {
	cat := EscapeToken(category(stream))
	st := EscapeToken(stream)
	ty := EscapeToken(eventType)
	var b strings.Builder
	b.Grow(len(eventsPrefix) + len(store) + len(cat) + len(st) + len(ty) + 4)
	b.WriteString(eventsPrefix)
	b.WriteString(store)
	b.WriteByte('.')
	b.WriteString(cat)
	b.WriteByte('.')
	b.WriteString(st)
	b.WriteByte('.')
	b.WriteString(ty)
	return b.String()
}

// EventsOfStore matches every event of one store.
func EventsOfStore(store string) string { return eventsPrefix + store + ".>" }

// EventsOfCategory matches the events of every stream of one category.
func EventsOfCategory(store, category string) string {
	return eventsPrefix + store + "." + EscapeToken(category) + ".>"
}

// EventsOfStream matches the events of one stream.
func EventsOfStream(store, stream string) string {
	return eventsPrefix + store + "." + EscapeToken(category(stream)) + "." + EscapeToken(stream) + ".*"
}

// EventsOfType matches the events of one type, in any stream.
func EventsOfType(store, eventType string) string {
	return eventsPrefix + store + ".*.*." + EscapeToken(eventType)
}

// ParseEvent splits a live event subject into its store, stream and event
// type (unescaped). It checks that the subject has exactly the five tokens
// of the layout and that the category token is the stream's category; any
// other subject is an invalid_argument error.
func ParseEvent(subject string) (store, stream, eventType string, err error) {
	rest, ok := strings.CutPrefix(subject, eventsPrefix)
	if !ok {
		return "", "", "", codes.New(codes.InvalidArgument, "not a live event subject: want the prefix %q", eventsPrefix)
	}
	toks := strings.Split(rest, ".")
	if len(toks) != 4 {
		return "", "", "", codes.New(codes.InvalidArgument, "live event subject has %d tokens after %q, want 4 (store, category, stream, type)", len(toks), eventsPrefix)
	}
	if toks[0] == "" {
		return "", "", "", codes.New(codes.InvalidArgument, "live event subject has an empty store token")
	}
	var cat string
	if cat, err = UnescapeToken(toks[1]); err != nil {
		return "", "", "", fmt.Errorf("category token: %w", err)
	}
	if stream, err = UnescapeToken(toks[2]); err != nil {
		return "", "", "", fmt.Errorf("stream token: %w", err)
	}
	if eventType, err = UnescapeToken(toks[3]); err != nil {
		return "", "", "", fmt.Errorf("type token: %w", err)
	}
	if stream == "" {
		return "", "", "", codes.New(codes.InvalidArgument, "live event subject has an empty stream")
	}
	if category(stream) != cat {
		return "", "", "", codes.New(codes.InvalidArgument, "category token %q is not the category of stream %q", toks[1], stream)
	}
	return toks[0], stream, eventType, nil
}

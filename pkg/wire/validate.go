package wire

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
)

// ValidateStoreID checks a store id: 1–64 characters of [a-z0-9_-], starting
// with a letter or digit. Such an id is always a single NATS subject token and
// a safe directory name.
func ValidateStoreID(id string) error {
	return checkToken(codes.InvalidStoreID, "store id", id, MaxStoreIDLen, func(i int, c byte) bool {
		return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'))
	}, "only a-z, 0-9, '_' and '-' are allowed, starting with a-z or 0-9")
}

// ValidateStream checks a stream name: 1–512 bytes of valid UTF-8 without
// control characters. Names starting with '$' are reserved for Logbook.
func ValidateStream(name string) error {
	if err := checkName(codes.InvalidStream, "stream name", name, MaxStreamLen); err != nil {
		return err
	}
	if name[0] == '$' {
		return codes.New(codes.InvalidStream, "stream names starting with '$' are reserved")
	}
	return nil
}

// ValidateEventType checks an event type: 1–256 bytes of UTF-8, no control characters.
func ValidateEventType(t string) error {
	return checkName(codes.InvalidEventType, "event type", t, MaxEventTypeLen)
}

// checkName checks a required name of 1 to max bytes of UTF-8 text without
// control characters; its errors have code c.
func checkName(c codes.Code, what, name string, max int) error {
	if err := checkLength(c, what, name, max); err != nil {
		return err
	}
	if err := checkText(name); err != "" {
		return codes.New(c, "%s %s", what, err)
	}
	return nil
}

// checkToken checks a required name of 1 to max bytes, each accepted by ok
// (given its index); rule says which are. Its errors have code c.
func checkToken(c codes.Code, what, name string, max int, ok func(i int, b byte) bool, rule string) error {
	if err := checkLength(c, what, name, max); err != nil {
		return err
	}
	for i := 0; i < len(name); i++ {
		if !ok(i, name[i]) {
			return codes.New(c, "%s %q: %s", what, Truncate(name), rule)
		}
	}
	return nil
}

func checkLength(c codes.Code, what, name string, max int) error {
	if name == "" {
		return codes.New(c, "%s is empty", what)
	}
	if len(name) > max {
		return codes.New(c, "%s is %d bytes, more than %d", what, len(name), max)
	}
	return nil
}

// ParseEventID parses an event id in canonical 8-4-4-4-12 hex form.
func ParseEventID(id string) (uuid.UUID, error) {
	if len(id) != 36 {
		return uuid.UUID{}, codes.New(codes.InvalidEventID, "event id %q is not a UUID in 8-4-4-4-12 form", Truncate(id))
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.UUID{}, codes.New(codes.InvalidEventID, "event id %q is not a UUID: %v", Truncate(id), err)
	}
	return u, nil
}

// Category is the part of a stream name before its first '-', or the whole
// name when it has none.
func Category(stream string) string {
	if i := strings.IndexByte(stream, '-'); i >= 0 {
		return stream[:i]
	}
	return stream
}

// checkText returns "" when s is valid UTF-8 without control characters,
// else what is wrong with it.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	return ""
}

// maxEcho bounds how much of a client's input an error message repeats.
const maxEcho = 64

// Truncate returns s as an error message may repeat it: at most 64 bytes.
// Every echo of client input goes through it (or through clip), so that no
// input, however large, makes an error reply large.
func Truncate(s string) string { return clip(s, maxEcho) }

// clip returns at most n bytes of s, cut on a rune boundary and marked "…"
// when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func invalid(format string, args ...any) error {
	return codes.New(codes.InvalidArgument, format, args...)
}

package wire_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Every echo of client input in an error message is bounded, and so is the
// error reply: a client must get an answer however large and strange its
// input, never silence because the answer was over the NATS max_payload.

// maxDecodeMessage bounds the message of any decoder error.
const maxDecodeMessage = 512

// controlChars is n bytes of control characters, which %q writes 4 bytes each.
func controlChars(n int) string { return strings.Repeat("\x01", n) }

func TestDecodeErrorsBoundTheirEcho(t *testing.T) {
	huge := controlChars(1_100_000)
	cases := []struct {
		name   string
		decode func([]byte) error
		req    kv
	}{
		{"read_all unknown key", func(b []byte) error { return wire.DecodeRequest("read_all", b, wire.DefaultLimits()) }, kv{huge: 1}},
		{"stores.list unknown key", func(b []byte) error { return wire.DecodeStoresRequest("list", b, wire.DefaultLimits()) }, kv{huge: 1}},
		{"append unknown key in an event", func(b []byte) error { return wire.DecodeRequest("append", b, wire.DefaultLimits()) },
			kv{"stream": "s", "events": []any{kv{"type": "T", huge: 1}}}},
		{"read direction", func(b []byte) error { return wire.DecodeRequest("read", b, wire.DefaultLimits()) }, kv{"stream": "s", "direction": huge}},
		{"append expected_state", func(b []byte) error { return wire.DecodeRequest("append", b, wire.DefaultLimits()) },
			kv{"stream": "s", "expected_state": huge, "events": []any{kv{"type": "T"}}}},
		{"append event id", func(b []byte) error { return wire.DecodeRequest("append", b, wire.DefaultLimits()) },
			kv{"stream": "s", "events": []any{kv{"type": "T", "id": huge[:36]}}}},
		{"psub_join deliver", func(b []byte) error { return wire.DecodeRequest("psub_join", b, wire.DefaultLimits()) },
			kv{"subscription": "s", "consumer": "c", "deliver": "_INBOX." + huge[:200]}},
		{"unknown operation", func(b []byte) error { return wire.DecodeRequest(huge, b, wire.DefaultLimits()) }, kv{}},
		{"unknown store operation", func(b []byte) error { return wire.DecodeStoresRequest(huge, b, wire.DefaultLimits()) }, kv{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.decode(pack(t, c.req))
			e := codes.As(err)
			if e == nil {
				t.Fatalf("error %v is not a *codes.Error", err)
			}
			if len(e.Message) > maxDecodeMessage {
				t.Fatalf("%s: message of %d bytes, more than %d: %.80s…", e.Code.Name(), len(e.Message), maxDecodeMessage, e.Message)
			}
		})
	}
}

func TestErrorMsgIsBounded(t *testing.T) {
	long := "a\r\nb" + controlChars(2<<20) + "é"
	desc, code, body := wire.ErrorMsg(codes.New(codes.InvalidArgument, "%s", long))
	if code != "40001" {
		t.Fatalf("code %q", code)
	}
	if len(desc) > wire.MaxErrorMessage+64 {
		t.Errorf("description of %d bytes", len(desc))
	}
	if strings.IndexFunc(desc, unicode.IsControl) >= 0 {
		t.Errorf("description holds a control character, which a NATS header cannot carry: %.40q", desc)
	}
	if len(body) > wire.MaxErrorMessage+128 {
		t.Errorf("body of %d bytes", len(body))
	}
	var er wire.ErrorReply
	if err := wire.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	if er.Code != int(codes.InvalidArgument) || er.Name != "invalid_argument" || !strings.HasPrefix(er.Message, "a\r\nb\x01") {
		t.Errorf("body %+.60v", er)
	}
}

// PublishError falls back to the code alone when the full error reply cannot
// be published, so that the requester gets a typed answer.
func TestPublishErrorFallsBack(t *testing.T) {
	var sent []*nats.Msg
	publish := func(m *nats.Msg) error {
		sent = append(sent, m)
		if len(sent) == 1 {
			return nats.ErrMaxPayload
		}
		return nil
	}
	err := wire.PublishError(publish, "_INBOX.x", codes.New(codes.InvalidStream, "stream name is empty"))
	if err != nil || len(sent) != 2 {
		t.Fatalf("PublishError = %v after %d publishes, want nil after 2", err, len(sent))
	}
	m := sent[1]
	if m.Subject != "_INBOX.x" {
		t.Errorf("fallback sent to %q", m.Subject)
	}
	e := wire.ErrorFromMsg(m)
	if e == nil || e.Code != codes.InvalidStream || len(m.Data)+len(m.Header.Get(wire.HeaderError)) > 256 {
		t.Fatalf("fallback %v, %d bytes", e, len(m.Data))
	}

	// When even the fallback cannot be sent, the caller hears of it.
	fail := func(*nats.Msg) error { return nats.ErrConnectionClosed }
	if err := wire.PublishError(fail, "_INBOX.x", codes.New(codes.Internal, "x")); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("PublishError = %v, want the publish error", err)
	}
}

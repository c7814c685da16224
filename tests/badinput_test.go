package tests

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// rawAppend appends events given as maps, encoded by the test, not the client.
func rawAppend(t testing.TB, in *instance, stream string, events ...map[string]any) (*wire.AppendReply, error) {
	t.Helper()
	msg, err := rawRequest(t, in, "store.default.append", mp(t, map[string]any{"stream": stream, "events": events}))
	if err != nil {
		return nil, err
	}
	if e := wire.ErrorFromMsg(msg); e != nil {
		return nil, e
	}
	var r wire.AppendReply
	return &r, wire.Unmarshal(msg.Data, &r)
}

func TestBadInputTable(t *testing.T) {
	in := startLogbook(t)
	seedStreams(t, in.Store)
	before := readAllForward(t, in.Store, nil, 1000)

	okEvent := map[string]any{"type": "T", "data": []byte("x")}
	big := bytes.Repeat([]byte("x"), 900<<10)
	manyEvents := make([]map[string]any, 1001)
	for i := range manyEvents {
		manyEvents[i] = okEvent
	}
	sixBig := make([]map[string]any, 6)
	for i := range sixBig {
		sixBig[i] = map[string]any{"type": "T", "data": big}
	}
	app := func(fields map[string]any) []byte { return mp(t, fields) }
	cases := []errorCase{
		{"not msgpack", "append", []byte{0xc1}, codes.MalformedRequest},
		{"empty payload", "append", nil, codes.MalformedRequest},
		{"truncated map", "append", app(map[string]any{"stream": "s", "events": []any{okEvent}})[:5], codes.MalformedRequest},
		{"array not map", "append", mp(t, []any{"s"}), codes.MalformedRequest},
		{"trailing bytes", "append", append(app(map[string]any{"stream": "s", "events": []any{okEvent}}), 0x01), codes.MalformedRequest},
		{"json not msgpack", "append", []byte(`{"stream":"s"}`), codes.MalformedRequest},
		{"stream wrong type", "append", app(map[string]any{"stream": 5, "events": []any{okEvent}}), codes.InvalidArgument},
		{"events wrong type", "append", app(map[string]any{"stream": "s", "events": "x"}), codes.InvalidArgument},
		{"data wrong type", "append", app(map[string]any{"stream": "s", "events": []any{map[string]any{"type": "T", "data": 7}}}), codes.InvalidArgument},
		{"unknown field", "append", app(map[string]any{"stream": "s", "events": []any{okEvent}, "expected": 1}), codes.InvalidArgument},
		{"missing stream", "append", app(map[string]any{"events": []any{okEvent}}), codes.InvalidStream},
		{"missing events", "append", app(map[string]any{"stream": "s"}), codes.EmptyAppend},
		{"empty events", "append", app(map[string]any{"stream": "s", "events": []any{}}), codes.EmptyAppend},
		{"missing type", "append", app(map[string]any{"stream": "s", "events": []any{map[string]any{"data": []byte("x")}}}), codes.InvalidEventType},
		{"control char in stream", "append", app(map[string]any{"stream": "a\x00b", "events": []any{okEvent}}), codes.InvalidStream},
		{"invalid utf8 stream", "append", app(map[string]any{"stream": "a\xffb", "events": []any{okEvent}}), codes.InvalidStream},
		{"stream too long", "append", app(map[string]any{"stream": strings.Repeat("s", 513), "events": []any{okEvent}}), codes.InvalidStream},
		{"reserved stream", "append", app(map[string]any{"stream": "$all", "events": []any{okEvent}}), codes.InvalidStream},
		{"bad uuid", "append", app(map[string]any{"stream": "s", "events": []any{map[string]any{"type": "T", "id": "not-a-uuid"}}}), codes.InvalidEventID},
		{"duplicate ids", "append", app(map[string]any{"stream": "s", "events": []any{
			map[string]any{"type": "T", "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
			map[string]any{"type": "T", "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}}}), codes.InvalidEventID},
		{"oversize event", "append", app(map[string]any{"stream": "s", "events": []any{map[string]any{"type": "T", "data": bytes.Repeat([]byte("x"), 1<<20+1)}}}), codes.EventTooLarge},
		{"too many events", "append", app(map[string]any{"stream": "s", "events": manyEvents}), codes.TooManyEvents},
		{"oversize request", "append", app(map[string]any{"stream": "s", "events": sixBig}), codes.RequestTooLarge},
		{"bad expected state", "append", app(map[string]any{"stream": "s", "expected_state": "maybe", "events": []any{okEvent}}), codes.InvalidArgument},
		{"exact without revision", "append", app(map[string]any{"stream": "s", "expected_state": "exact", "events": []any{okEvent}}), codes.InvalidArgument},
		{"negative revision", "append", app(map[string]any{"stream": "s", "expected_revision": -1, "events": []any{okEvent}}), codes.InvalidArgument},
		{"revision with any", "append", app(map[string]any{"stream": "s", "expected_state": "any", "expected_revision": 3, "events": []any{okEvent}}), codes.InvalidArgument},
		{"negative max_count", "read", app(map[string]any{"stream": "order-1", "max_count": -5}), codes.InvalidArgument},
		{"absurd max_count", "read", app(map[string]any{"stream": "order-1", "max_count": 1_000_000_000}), codes.InvalidArgument},
		{"negative from_revision", "read", app(map[string]any{"stream": "order-1", "from_revision": -1}), codes.InvalidArgument},
		{"huge from_revision", "read", app(map[string]any{"stream": "order-1", "from_revision": uint64(1 << 63)}), codes.InvalidArgument},
		{"bad direction", "read", app(map[string]any{"stream": "order-1", "direction": "sideways"}), codes.InvalidArgument},
		{"read empty stream name", "read", app(map[string]any{"stream": ""}), codes.InvalidStream},
		{"negative from_position", "read_all", app(map[string]any{"from_position": -2}), codes.InvalidArgument},
		{"filter wrong type", "read_all", app(map[string]any{"filter": "order"}), codes.InvalidArgument},
		{"filter bad event type", "read_all", app(map[string]any{"filter": map[string]any{"event_types": []string{""}}}), codes.InvalidEventType},
		{"list limit zero", "list_streams", app(map[string]any{"limit": 0}), codes.InvalidArgument},
		{"info missing stream", "stream_info", app(map[string]any{}), codes.InvalidStream},
		{"delete bad state", "delete_stream", app(map[string]any{"stream": "order-1", "expected_state": 3}), codes.InvalidArgument},
		// An empty string is a value, not an absent field: refused, nothing written.
		{"empty expected state", "append", app(map[string]any{"stream": "s", "expected_state": "", "events": []any{okEvent}}), codes.InvalidArgument},
		{"empty event id", "append", app(map[string]any{"stream": "s", "events": []any{map[string]any{"type": "T", "id": ""}}}), codes.InvalidEventID},
		{"empty direction", "read", app(map[string]any{"stream": "order-1", "direction": ""}), codes.InvalidArgument},
		{"empty direction read_all", "read_all", app(map[string]any{"direction": ""}), codes.InvalidArgument},
		{"empty expected state delete", "delete_stream", app(map[string]any{"stream": "order-1", "expected_state": ""}), codes.InvalidArgument},
		{"empty start", "psub_create", app(map[string]any{"subscription": "never", "start": ""}), codes.InvalidArgument},
		{"empty strategy", "psub_create", app(map[string]any{"subscription": "never", "settings": map[string]any{"strategy": ""}}), codes.InvalidArgument},
		{"empty ack action", "psub_ack", app(map[string]any{"subscription": "never", "consumer": "c", "positions": []int{0}, "action": ""}), codes.InvalidArgument},
		{"unknown operation", "frobnicate", app(map[string]any{}), codes.UnknownOperation},
		{"unknown store", "store.nostore.append", app(map[string]any{"stream": "s", "events": []any{okEvent}}), codes.StoreNotFound},
		{"invalid store id", "store.Bad_Store.append", app(map[string]any{"stream": "s", "events": []any{okEvent}}), codes.InvalidStoreID},
		{"store id too long", "store." + strings.Repeat("a", 65) + ".read", app(map[string]any{"stream": "s"}), codes.InvalidStoreID},
		{"missing operation", "store.default", app(map[string]any{}), codes.UnknownOperation},
		{"extra subject token", "store.default.append.now", app(map[string]any{}), codes.UnknownOperation},
	}
	checkErrorCases(t, in, "store.default.", cases)
	// Nothing stored was harmed, nothing was added.
	after := readAllForward(t, in.Store, nil, 1000)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("$all changed: %d events before, %d after", len(before), len(after))
	}
	if _, err := in.Store.StreamInfo(ctxT(t), "s"); err == nil {
		t.Fatal("stream s was created by a rejected request")
	}
	if info, err := in.Store.StreamInfo(ctxT(t), "order-1"); err != nil || info.Deleted {
		t.Fatalf("stream order-1 after a rejected delete: %+v, %v", info, err)
	}
	if subs, err := in.Store.ListSubscriptions(ctxT(t)); err != nil || len(subs) != 0 {
		t.Fatalf("subscriptions after rejected creates: %+v, %v", subs, err)
	}
	// The store still works.
	if _, err := in.Store.Append(ctxT(t), "s", client.NoStream, ev("T", "ok")); err != nil {
		t.Fatal(err)
	}
}

// A request with a huge unknown key of control characters still gets a
// typed error reply: the message repeats a bounded part of the key, so the
// reply stays far below the NATS server's max_payload.
func TestBadInputHugeKey(t *testing.T) {
	in := startLogbook(t)
	key := strings.Repeat("\x01", 1_100_000)
	for _, subject := range []string{"store.default.read_all", "stores.list", "store.default.append"} {
		t.Run(subject, func(t *testing.T) {
			msg, err := rawRequest(t, in, subject, mp(t, map[string]any{key: 1}))
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if got := msg.Header.Get(wire.HeaderErrorCode); got != strconv.Itoa(int(codes.InvalidArgument)) {
				t.Fatalf("code header %q, want %d", got, codes.InvalidArgument)
			}
			var body wire.ErrorReply
			if err := wire.Unmarshal(msg.Data, &body); err != nil {
				t.Fatalf("error body: %v", err)
			}
			if body.Name != codes.InvalidArgument.Name() || body.Message == "" || len(msg.Data) > 2048 {
				t.Fatalf("error body of %d bytes: %.100q", len(msg.Data), body.Message)
			}
		})
	}
}

func TestServiceDiscovery(t *testing.T) {
	in := startLogbook(t)
	msg, err := rawRequest(t, in, "$SRV.PING.logbook", nil)
	if err != nil {
		t.Fatalf("$SRV.PING: %v", err)
	}
	if !strings.Contains(string(msg.Data), `"name":"logbook"`) {
		t.Fatalf("ping reply %s", msg.Data)
	}
	msg, err = rawRequest(t, in, "$SRV.INFO.logbook", nil)
	if err != nil || !strings.Contains(string(msg.Data), `"subject":"store.\u003e"`) && !strings.Contains(string(msg.Data), `store.>`) {
		t.Fatalf("info reply %s %v", msg.Data, err)
	}
}

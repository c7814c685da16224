package wire_test

import (
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// An empty string is a value, not an absent field: where the contract lists
// a field's values, "" is not one of them and is refused. Only leaving the
// key out selects the default.

// kv is a request as a client in another language would build it.
type kv = map[string]any

// str8Empty is the empty string written as str8 (0xd9 0x00) instead of the
// usual fixstr 0xa0: both are "".
type str8Empty struct{}

func (str8Empty) EncodeMsgpack(e *msgpack.Encoder) error {
	_, err := e.Writer().Write([]byte{0xd9, 0x00})
	return err
}

func pack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEmptyStringIsNotAbsent(t *testing.T) {
	const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	ev := kv{"type": "T"}
	cases := []struct {
		name string
		op   string
		req  kv
		want codes.Code
	}{
		{"read direction", "read", kv{"stream": "s", "direction": ""}, codes.InvalidArgument},
		{"read direction str8", "read", kv{"stream": "s", "direction": str8Empty{}}, codes.InvalidArgument},
		{"read_all direction", "read_all", kv{"direction": ""}, codes.InvalidArgument},
		{"append expected_state", "append", kv{"stream": "s", "expected_state": "", "events": []any{ev}}, codes.InvalidArgument},
		{"append expected_state with revision", "append", kv{"stream": "s", "expected_state": "", "expected_revision": 0, "events": []any{ev}}, codes.InvalidArgument},
		{"append event id", "append", kv{"stream": "s", "events": []any{kv{"id": "", "type": "T"}}}, codes.InvalidEventID},
		{"append second event id", "append", kv{"stream": "s", "events": []any{kv{"id": id, "type": "T"}, kv{"id": str8Empty{}, "type": "T"}}}, codes.InvalidEventID},
		{"delete_stream expected_state", "delete_stream", kv{"stream": "s", "expected_state": ""}, codes.InvalidArgument},
		{"psub_create start", "psub_create", kv{"subscription": "s", "start": ""}, codes.InvalidArgument},
		{"psub_create start with position", "psub_create", kv{"subscription": "s", "start": "", "start_position": 3}, codes.InvalidArgument},
		{"psub_create strategy", "psub_create", kv{"subscription": "s", "settings": kv{"strategy": ""}}, codes.InvalidArgument},
		{"psub_update strategy", "psub_update", kv{"subscription": "s", "settings": kv{"strategy": ""}}, codes.InvalidArgument},
		{"psub_ack action", "psub_ack", kv{"subscription": "s", "consumer": "c", "positions": []int{1}, "action": ""}, codes.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := wire.DecodeRequest(c.op, pack(t, c.req), wire.DefaultLimits())
			if e := codes.As(err); e == nil || e.Code != c.want {
				t.Fatalf("DecodeRequest(%s) = %v, want %s", c.op, err, c.want.Name())
			}
		})
	}
}

// Leaving the key out still selects the default, and the fields that do
// take "" (content types, filters, cursors) still accept it.
func TestAbsentKeepsDefault(t *testing.T) {
	l := wire.DefaultLimits()
	read, _, err := wire.DecodeRead(pack(t, kv{"stream": "s"}), l)
	if err != nil || read.Direction != wire.Forward {
		t.Fatalf("read without direction: %+v, %v", read, err)
	}
	all, _, err := wire.DecodeReadAll(pack(t, kv{"filter": kv{"stream_prefix": "", "category": ""}}), l)
	if err != nil || all.Direction != wire.Forward {
		t.Fatalf("read_all without direction: %+v, %v", all, err)
	}
	app, err := wire.DecodeAppend(pack(t, kv{"stream": "s", "events": []any{kv{"type": "T", "data_content_type": ""}}}), l)
	if err != nil || app.ExpectedState != wire.ExpectAny || app.Events[0].ID != "" {
		t.Fatalf("append without expected_state and id: %+v, %v", app, err)
	}
	app, err = wire.DecodeAppend(pack(t, kv{"stream": "s", "expected_revision": 4, "events": []any{kv{"type": "T"}}}), l)
	if err != nil || app.ExpectedState != wire.ExpectExact {
		t.Fatalf("append with a revision only: %+v, %v", app, err)
	}
	del, err := wire.DecodeDeleteStream(pack(t, kv{"stream": "s"}), l)
	if err != nil || del.ExpectedState != wire.ExpectAny {
		t.Fatalf("delete_stream without expected_state: %+v, %v", del, err)
	}
	create, err := wire.DecodeCreateSubscription(pack(t, kv{"subscription": "s", "start_position": 3, "settings": kv{"max_in_flight": 2}}), l)
	if err != nil || create.Start != wire.StartAtPosition || wire.ResolveSettings(create.Settings, nil).Strategy != wire.StrategyRoundRobin {
		t.Fatalf("psub_create without start and strategy: %+v, %v", create, err)
	}
	ack, _, err := wire.DecodeAck(pack(t, kv{"subscription": "s", "consumer": "c", "positions": []int{1}}), l)
	if err != nil || ack.Action != wire.ActionAck {
		t.Fatalf("psub_ack without action: %+v, %v", ack, err)
	}
	streams, _, err := wire.DecodeListStreams(pack(t, kv{"prefix": "", "after": ""}), l)
	if err != nil || streams.Prefix != "" {
		t.Fatalf("list_streams with empty prefix and after: %+v, %v", streams, err)
	}
}

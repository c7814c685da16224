// Command gengolden writes the golden vectors of schemas/testdata: for each
// case a <name>.msgpack file holding the exact bytes wire.Marshal produces and
// a <name>.json file describing the decoded value, plus the payloads of
// schemas/testdata/invalid that every decoder must reject.
//
// Run it from the pkg module (see schemas/testdata/README.md):
//
//	go run ./wire/internal/gengolden          # check that the files are up to date
//	go run ./wire/internal/gengolden -write   # regenerate them
//
// The .json files are derived from the .msgpack bytes, not from the Go
// values: keys appear in the order they have on the wire, absent fields are
// absent, and bin values are base64 strings.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// golden is one valid message.
type golden struct {
	name        string
	message     string // Go type name, also the $defs name in messages.schema.json
	operation   string // the operation it belongs to (append, stores.create...); "" for messages shared by several
	kind        string // request, reply, part, error or event
	description string
	value       any
}

// invalid is one payload a decoder must reject.
type invalid struct {
	name        string
	operation   string // append... (store.<store>.<op>), or stores.create... (the subject)
	code        codes.Code
	description string
	data        []byte
	limits      map[string]int // overrides of wire.DefaultLimits, by JSON name
}

// Fixed sample values, chosen to exercise every integer width and str8/bin8.
const (
	id1 = "0b6d8f8e-3c52-4f6e-9d0a-7a1f2b3c4d5e"
	id2 = "5f0c3a9b-8e21-4d7c-b6a4-1e2f3d4c5b6a"
	id3 = "c2a1e0f9-7b6d-4c5e-8f90-a1b2c3d4e5f6"

	ts1 = int64(1732358400123456789) // 2024-11-23T10:40:00.123456789Z
	ts2 = int64(1732358461987654321)
	ts0 = int64(1730000000000000000)

	ctJSON  = "application/json"
	ctOrder = "application/vnd.example.order.v1+json" // 37 bytes: a str8
)

var (
	orderPlaced  = []byte(`{"order_id":"o-1001","total_cents":4599}`)
	orderShipped = []byte(`{"order_id":"o-1001","carrier":"dhl"}`)
	meta         = []byte(`{"correlation_id":"req-7f3a","user":"alice"}`)
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }

func recorded(id, stream, typ string, rev, pos uint64, ts int64, data []byte, dct string, md []byte, mct string) wire.RecordedEvent {
	return wire.RecordedEvent{ID: id, Stream: stream, Type: typ, Revision: rev, Position: pos, Timestamp: ts,
		Data: data, DataContentType: dct, Metadata: md, MetadataContentType: mct}
}

var (
	ev1 = recorded(id1, "order-1001", "OrderPlaced", 0, 70000, ts1, orderPlaced, ctJSON, meta, ctJSON)
	ev2 = recorded(id2, "order-1001", "OrderShipped", 1, 70001, ts2, orderShipped, ctOrder, []byte{}, "")
	// An event appended with no data, metadata or content types: on the
	// wire they are an empty bin and empty strings, never absent or nil.
	ev3 = recorded(id3, "invoice-77", "InvoiceVoided", 200, 70002, ts2, []byte{}, "", []byte{}, "")
)

func goldens() []golden {
	return []golden{
		{"append_request_minimal", "AppendRequest", "append", "request",
			"The smallest valid append: a stream and one event with only a type. No id (the server generates one, so a retry is not idempotent), no expected_state (any).",
			wire.AppendRequest{Stream: "order-1001", Events: []wire.EventData{{Type: "OrderPlaced"}}}},
		{"append_request_full", "AppendRequest", "append", "request",
			"Every field of an append and of its events: expected_state exact with expected_revision, client-supplied ids, data, metadata and content types.",
			wire.AppendRequest{Stream: "order-1001", ExpectedState: wire.ExpectExact, ExpectedRevision: i64(1234), Events: []wire.EventData{
				{ID: id1, Type: "OrderPlaced", Data: orderPlaced, DataContentType: ctJSON, Metadata: meta, MetadataContentType: ctJSON},
				{ID: id2, Type: "OrderShipped", Data: orderShipped, DataContentType: ctOrder, Metadata: meta, MetadataContentType: ctJSON},
			}}},
		{"append_request_exact_revision", "AppendRequest", "append", "request",
			"expected_revision 0 (the stream must be at revision 0, i.e. hold exactly one event): 0 is encoded, not omitted. expected_state is absent, which means exact when expected_revision is present.",
			wire.AppendRequest{Stream: "order-1001", ExpectedRevision: i64(0), Events: []wire.EventData{{ID: id2, Type: "OrderShipped", Data: orderShipped, DataContentType: ctJSON}}}},
		{"append_request_no_stream", "AppendRequest", "append", "request",
			"expected_state no_stream: the append creates the stream or fails with wrong_expected_revision.",
			wire.AppendRequest{Stream: "order-1001", ExpectedState: wire.ExpectNoStream, Events: []wire.EventData{{ID: id1, Type: "OrderPlaced", Data: orderPlaced, DataContentType: ctJSON}}}},

		{"append_reply", "AppendReply", "append", "reply",
			"Two events written at revisions 0..1, positions 70000..70001. duplicate and event_ids are absent.",
			wire.AppendReply{FirstRevision: 0, LastRevision: 1, FirstPosition: 70000, LastPosition: 70001, Timestamp: ts1}},
		{"append_reply_duplicate", "AppendReply", "append", "reply",
			"The reply to a retry of an append that had already been written: the original result with duplicate true; nothing was written.",
			wire.AppendReply{FirstRevision: 0, LastRevision: 1, FirstPosition: 70000, LastPosition: 70001, Timestamp: ts1, Duplicate: true}},
		{"append_reply_event_ids", "AppendReply", "append", "reply",
			"When the server generated any id, event_ids lists the ids of all the written events in order.",
			wire.AppendReply{FirstRevision: 200, LastRevision: 201, FirstPosition: 4294967296, LastPosition: 4294967297, Timestamp: ts2, EventIDs: []string{id1, id2}}},

		{"recorded_event", "RecordedEvent", "", "part",
			"An event as stored, as it appears in read and read_all replies. Every field is always present.",
			ev1},
		{"recorded_event_empty", "RecordedEvent", "", "part",
			"An event written without data, metadata or content types: data and metadata are empty bin, content types empty strings.",
			ev3},

		{"read_request_minimal", "ReadRequest", "read", "request",
			"Read a stream forward from revision 0, max_count defaulting to 100.",
			wire.ReadRequest{Stream: "order-1001"}},
		{"read_request_backward", "ReadRequest", "read", "request",
			"Read at most 50 events backward starting at revision 99.",
			wire.ReadRequest{Stream: "order-1001", Direction: wire.Backward, FromRevision: i64(99), MaxCount: i64(50)}},
		{"read_request_forward", "ReadRequest", "read", "request",
			"Read forward from revision 0 with every field explicit.",
			wire.ReadRequest{Stream: "order-1001", Direction: wire.Forward, FromRevision: i64(0), MaxCount: i64(1000)}},
		{"read_reply", "ReadReply", "read", "reply",
			"A page holding the whole stream: end_of_stream true, next_revision one past the last event.",
			wire.ReadReply{Events: []wire.RecordedEvent{ev1, ev2}, NextRevision: 2, EndOfStream: true, LastRevision: 1}},
		{"read_reply_partial", "ReadReply", "read", "reply",
			"A page that does not reach the end of the stream: continue with from_revision = next_revision.",
			wire.ReadReply{Events: []wire.RecordedEvent{ev1}, NextRevision: 1, EndOfStream: false, LastRevision: 1}},
		{"read_reply_empty", "ReadReply", "read", "reply",
			"Reading forward past the end: no events (an empty array, never absent), next_revision = from_revision, end_of_stream true.",
			wire.ReadReply{Events: []wire.RecordedEvent{}, NextRevision: 2, EndOfStream: true, LastRevision: 1}},

		{"read_all_request_minimal", "ReadAllRequest", "read_all", "request",
			"Every field is optional: the empty map reads $all forward from position 0, 100 events.",
			wire.ReadAllRequest{}},
		{"read_all_request_filter", "ReadAllRequest", "read_all", "request",
			"A filtered $all read: every field and every filter field.",
			wire.ReadAllRequest{Direction: wire.Forward, FromPosition: i64(70000), MaxCount: i64(500),
				Filter: &wire.Filter{StreamPrefix: "order-1", Category: "order", EventTypes: []string{"OrderPlaced", "OrderShipped"}}}},
		{"read_all_request_backward", "ReadAllRequest", "read_all", "request",
			"$all backward from the end of the store, only events of category invoice.",
			wire.ReadAllRequest{Direction: wire.Backward, MaxCount: i64(10), Filter: &wire.Filter{Category: "invoice"}}},
		{"read_all_reply", "ReadAllReply", "read_all", "reply",
			"A page of $all that does not reach the end: continue with from_position = next_position.",
			wire.ReadAllReply{Events: []wire.RecordedEvent{ev1, ev2, ev3}, NextPosition: 70003, EndOfStore: false}},
		{"read_all_reply_filtered_empty", "ReadAllReply", "read_all", "reply",
			"A filtered page that scanned its 10,000 events without a match: no events but end_of_store false; continue from next_position.",
			wire.ReadAllReply{Events: []wire.RecordedEvent{}, NextPosition: 80000, EndOfStore: false}},
		{"read_all_reply_end", "ReadAllReply", "read_all", "reply",
			"The last page: end_of_store true.",
			wire.ReadAllReply{Events: []wire.RecordedEvent{ev3}, NextPosition: 70003, EndOfStore: true}},

		{"list_streams_request_minimal", "ListStreamsRequest", "list_streams", "request",
			"Every field is optional: the first 100 streams of the store, in byte order.",
			wire.ListStreamsRequest{}},
		{"list_streams_request", "ListStreamsRequest", "list_streams", "request",
			"The next page of streams starting with order-, after order-1001.",
			wire.ListStreamsRequest{Prefix: "order-", After: "order-1001", Limit: i64(2)}},
		{"list_streams_reply", "ListStreamsReply", "list_streams", "reply",
			"A full page with more to come: next is the last name of the page; pass it as after.",
			wire.ListStreamsReply{Streams: []wire.StreamInfo{
				{Stream: "order-1002", LastRevision: 4, EventCount: 5, FirstPosition: 70010, LastPosition: 70107, Created: ts0, Updated: ts1},
				{Stream: "order-1003", LastRevision: 0, EventCount: 1, FirstPosition: 70020, LastPosition: 70020, Created: ts0, Updated: ts2, Deleted: true},
			}, Next: "order-1003"}},
		{"list_streams_reply_last", "ListStreamsReply", "list_streams", "reply",
			"The last page: next is absent.",
			wire.ListStreamsReply{Streams: []wire.StreamInfo{
				{Stream: "order-1004", LastRevision: 65535, EventCount: 65536, FirstPosition: 3, LastPosition: 4294967295, Created: ts0, Updated: ts2},
			}}},
		{"list_streams_reply_empty", "ListStreamsReply", "list_streams", "reply",
			"No stream matched: an empty array, next absent.",
			wire.ListStreamsReply{Streams: []wire.StreamInfo{}}},

		{"stream_info_request", "StreamInfoRequest", "stream_info", "request",
			"Stream names are UTF-8; this one is 11 bytes.",
			wire.StreamInfoRequest{Stream: "café-42"}},
		{"stream_info_reply", "StreamInfo", "stream_info", "reply",
			"A live stream: deleted is absent.",
			wire.StreamInfo{Stream: "café-42", LastRevision: 41, EventCount: 42, FirstPosition: 100, LastPosition: 70001, Created: ts0, Updated: ts2}},
		{"stream_info_reply_deleted", "StreamInfo", "stream_info", "reply",
			"A deleted stream: stream_info still answers, with deleted true.",
			wire.StreamInfo{Stream: "order-1003", LastRevision: 0, EventCount: 1, FirstPosition: 70020, LastPosition: 70020, Created: ts0, Updated: ts2, Deleted: true}},

		{"delete_stream_request", "DeleteStreamRequest", "delete_stream", "request",
			"Delete a stream whatever its revision.",
			wire.DeleteStreamRequest{Stream: "order-1003"}},
		{"delete_stream_request_exact", "DeleteStreamRequest", "delete_stream", "request",
			"Delete a stream only if it is still at revision 7.",
			wire.DeleteStreamRequest{Stream: "order-1003", ExpectedState: wire.ExpectExact, ExpectedRevision: i64(7)}},
		{"delete_stream_reply", "DeleteStreamReply", "delete_stream", "reply",
			"The deleted stream's last revision and the commit time of the deletion.",
			wire.DeleteStreamReply{Stream: "order-1003", LastRevision: 7, Timestamp: ts2}},

		{"error_reply_wrong_expected_revision", "ErrorReply", "", "error",
			"wrong_expected_revision on a stream that exists: current_revision is its last revision.",
			wire.ErrorReply{Code: int(codes.WrongExpectedRevision), Name: codes.WrongExpectedRevision.Name(),
				Message: "expected revision 1234, stream is at revision 1", CurrentRevision: u64(1)}},
		{"error_reply_wrong_expected_revision_no_stream", "ErrorReply", "", "error",
			"wrong_expected_revision on a stream that does not exist: current_revision is absent.",
			wire.ErrorReply{Code: int(codes.WrongExpectedRevision), Name: codes.WrongExpectedRevision.Name(),
				Message: "expected revision 0, stream does not exist"}},
		{"error_reply", "ErrorReply", "", "error",
			"Any other error: code, name and message; current_revision absent.",
			wire.ErrorReply{Code: int(codes.StreamNotFound), Name: codes.StreamNotFound.Name(),
				Message: `stream "order-9999" does not exist`}},
	}
}

// ---- invalid payloads --------------------------------------------------

// obj is a MessagePack map with its keys in the given order: k1, v1, k2, v2...
type obj []any

func (o obj) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeMapLen(len(o) / 2); err != nil {
		return err
	}
	for i := 0; i < len(o); i += 2 {
		if err := e.EncodeString(o[i].(string)); err != nil {
			return err
		}
		if err := e.Encode(o[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// raw is written verbatim.
type raw []byte

func (r raw) EncodeMsgpack(e *msgpack.Encoder) error {
	_, err := e.Writer().Write(r)
	return err
}

func enc(v any) []byte {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(true)
	if err := e.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func invalids() []invalid {
	ev := obj{"type", "OrderPlaced"}
	evs := []any{ev}
	appendOf := func(kv ...any) []byte { return enc(obj(kv)) }
	many := make([]any, 1001)
	for i := range many {
		many[i] = obj{"type", "t"}
	}
	typesN := make([]any, 101)
	for i := range typesN {
		typesN[i] = fmt.Sprintf("T%d", i)
	}
	return []invalid{
		// Not a MessagePack map.
		{"empty_payload", "append", codes.MalformedRequest, "Zero bytes.", []byte{}, nil},
		{"not_msgpack_json", "append", codes.MalformedRequest, "JSON text instead of MessagePack.", []byte(`{"stream":"order-1001","events":[{"type":"OrderPlaced"}]}`), nil},
		{"not_msgpack_reserved_byte", "read", codes.MalformedRequest, "0xc1 is never used by MessagePack.", []byte{0xc1}, nil},
		{"array_instead_of_map", "append", codes.MalformedRequest, "The request's fields as a MessagePack array (positional), not a map.", enc([]any{"order-1001", "", nil, evs}), nil},
		{"string_instead_of_map", "stream_info", codes.MalformedRequest, "A bare string.", enc("order-1001"), nil},
		{"nil_instead_of_map", "read_all", codes.MalformedRequest, "MessagePack nil.", []byte{0xc0}, nil},
		{"trailing_bytes", "read", codes.MalformedRequest, "A valid request followed by one more byte.", cat(enc(obj{"stream", "order-1001"}), []byte{0xc0}), nil},
		{"two_messages", "stream_info", codes.MalformedRequest, "Two valid requests back to back.", cat(enc(obj{"stream", "a"}), enc(obj{"stream", "b"})), nil},
		{"truncated_map", "append", codes.MalformedRequest, "A map header announcing two entries followed by one.", enc(raw(cat([]byte{0x82}, enc("stream"), enc("order-1001")))), nil},
		{"truncated_string", "read", codes.MalformedRequest, "A str8 announcing 200 bytes followed by 10.", cat([]byte{0x81}, enc("stream"), []byte{0xd9, 200}, []byte("order-1001")), nil},

		// Wrong types and unknown keys.
		{"wrong_type_stream_int", "append", codes.InvalidArgument, "stream is an integer.", appendOf("stream", 5, "events", evs), nil},
		{"wrong_type_events_map", "append", codes.InvalidArgument, "events is a map, not an array.", appendOf("stream", "order-1001", "events", ev), nil},
		{"wrong_type_max_count_string", "read", codes.InvalidArgument, "max_count is a string.", enc(obj{"stream", "order-1001", "max_count", "10"}), nil},
		{"wrong_type_revision_float", "append", codes.InvalidArgument, "expected_revision is a float64.", appendOf("stream", "order-1001", "expected_revision", 3.0, "events", evs), nil},
		{"wrong_type_event_types_string", "read_all", codes.InvalidArgument, "filter.event_types is a string instead of an array.", enc(obj{"filter", obj{"event_types", "OrderPlaced"}}), nil},
		{"non_string_key", "list_streams", codes.MalformedRequest, "A map key that is an integer.", enc(raw([]byte{0x81, 0x01, 0x02})), nil},
		{"unknown_field", "append", codes.InvalidArgument, "An unknown top-level key.", appendOf("stream", "order-1001", "events", evs, "partition", 3), nil},
		{"unknown_field_nested", "append", codes.InvalidArgument, "An unknown key inside an event.", appendOf("stream", "order-1001", "events", []any{obj{"type", "OrderPlaced", "payload", []byte("x")}}), nil},
		{"unknown_field_camel_case", "read", codes.InvalidArgument, "Keys are snake_case: fromRevision is unknown.", enc(obj{"stream", "order-1001", "fromRevision", 3}), nil},

		// Stream names.
		{"missing_stream", "append", codes.InvalidStream, "No stream key.", appendOf("events", evs), nil},
		{"empty_stream", "read", codes.InvalidStream, "stream is the empty string.", enc(obj{"stream", ""}), nil},
		{"stream_reserved", "append", codes.InvalidStream, "Names starting with $ are reserved.", appendOf("stream", "$all", "events", evs), nil},
		{"stream_control_char", "stream_info", codes.InvalidStream, "A newline in the name.", enc(obj{"stream", "order\n1001"}), nil},
		{"stream_invalid_utf8", "read", codes.InvalidStream, "A name that is not valid UTF-8.", enc(obj{"stream", "order-\xff"}), nil},
		{"stream_too_long", "delete_stream", codes.InvalidStream, "513 bytes.", enc(obj{"stream", strings.Repeat("s", 513)}), nil},
		{"missing_stream_stream_info", "stream_info", codes.InvalidStream, "The empty map.", []byte{0x80}, nil},

		// Events.
		{"empty_events", "append", codes.EmptyAppend, "events is an empty array.", appendOf("stream", "order-1001", "events", []any{}), nil},
		{"missing_events", "append", codes.EmptyAppend, "No events key.", appendOf("stream", "order-1001"), nil},
		{"too_many_events", "append", codes.TooManyEvents, "1001 events; the default max_append_events is 1000.", appendOf("stream", "order-1001", "events", many), nil},
		{"event_too_large", "append", codes.EventTooLarge, "An event of 64 bytes (type + data) with max_event_size 63.", appendOf("stream", "order-1001", "events", []any{obj{"type", "Big", "data", bytes.Repeat([]byte{'x'}, 61)}}), map[string]int{"max_event_size": 63}},
		{"request_too_large", "read", codes.RequestTooLarge, "A 19-byte request with max_request_size 18.", enc(obj{"stream", "order-1001"}), map[string]int{"max_request_size": 18}},
		{"bad_uuid", "append", codes.InvalidEventID, "An id that is not a UUID.", appendOf("stream", "order-1001", "events", []any{obj{"id", "not-a-uuid", "type", "OrderPlaced"}}), nil},
		{"bad_uuid_no_dashes", "append", codes.InvalidEventID, "A UUID without dashes: only the 8-4-4-4-12 form is accepted.", appendOf("stream", "order-1001", "events", []any{obj{"id", strings.ReplaceAll(id1, "-", ""), "type", "OrderPlaced"}}), nil},
		{"bad_uuid_braces", "append", codes.InvalidEventID, "A UUID in braces.", appendOf("stream", "order-1001", "events", []any{obj{"id", "{" + id1 + "}", "type", "OrderPlaced"}}), nil},
		{"empty_event_id", "append", codes.InvalidEventID, "An id that is the empty string: leave id out to have the server choose one.", appendOf("stream", "order-1001", "events", []any{obj{"id", "", "type", "OrderPlaced"}}), nil},
		{"duplicate_event_ids", "append", codes.InvalidEventID, "Two events with the same id (differing only in case).", appendOf("stream", "order-1001", "events", []any{obj{"id", id1, "type", "A"}, obj{"id", strings.ToUpper(id1), "type", "B"}}), nil},
		{"missing_event_type", "append", codes.InvalidEventType, "An event without a type.", appendOf("stream", "order-1001", "events", []any{obj{"id", id1}}), nil},
		{"event_type_too_long", "append", codes.InvalidEventType, "An event type of 257 bytes.", appendOf("stream", "order-1001", "events", []any{obj{"type", strings.Repeat("T", 257)}}), nil},
		{"content_type_too_long", "append", codes.InvalidArgument, "A data_content_type of 129 bytes.", appendOf("stream", "order-1001", "events", []any{obj{"type", "T", "data_content_type", strings.Repeat("c", 129)}}), nil},

		// Expected state.
		{"exact_without_revision", "append", codes.InvalidArgument, "expected_state exact without expected_revision.", appendOf("stream", "order-1001", "expected_state", "exact", "events", evs), nil},
		{"revision_with_any", "append", codes.InvalidArgument, "expected_revision with expected_state any.", appendOf("stream", "order-1001", "expected_state", "any", "expected_revision", 3, "events", evs), nil},
		{"negative_expected_revision", "append", codes.InvalidArgument, "expected_revision -1.", appendOf("stream", "order-1001", "expected_revision", -1, "events", evs), nil},
		{"bad_expected_state", "append", codes.InvalidArgument, "An expected_state that is not one of the four.", appendOf("stream", "order-1001", "expected_state", "latest", "events", evs), nil},
		{"expected_state_uppercase", "delete_stream", codes.InvalidArgument, "Enum values are lower case.", enc(obj{"stream", "order-1001", "expected_state", "NO_STREAM"}), nil},
		{"delete_exact_without_revision", "delete_stream", codes.InvalidArgument, "expected_state exact without expected_revision.", enc(obj{"stream", "order-1001", "expected_state", "exact"}), nil},
		{"empty_expected_state", "append", codes.InvalidArgument, "expected_state is the empty string, which is not one of the four: leave it out for the default.", appendOf("stream", "order-1001", "expected_state", "", "events", evs), nil},
		{"empty_expected_state_delete", "delete_stream", codes.InvalidArgument, "expected_state is the empty string.", enc(obj{"stream", "order-1001", "expected_state", ""}), nil},

		// Reads.
		{"negative_max_count", "read", codes.InvalidArgument, "max_count -1.", enc(obj{"stream", "order-1001", "max_count", -1}), nil},
		{"zero_max_count", "read_all", codes.InvalidArgument, "max_count 0.", enc(obj{"max_count", 0}), nil},
		{"max_count_too_large", "read", codes.InvalidArgument, "max_count 4097; the default max_read_count is 4096.", enc(obj{"stream", "order-1001", "max_count", 4097}), nil},
		{"negative_from_revision", "read", codes.InvalidArgument, "from_revision -200.", enc(obj{"stream", "order-1001", "from_revision", -200}), nil},
		{"negative_from_position", "read_all", codes.InvalidArgument, "from_position -1.", enc(obj{"from_position", -1}), nil},
		{"bad_direction", "read_all", codes.InvalidArgument, "direction sideways.", enc(obj{"direction", "sideways"}), nil},
		{"bad_direction_read", "read", codes.InvalidArgument, "direction is case-sensitive.", enc(obj{"stream", "order-1001", "direction", "Backward"}), nil},
		{"empty_direction", "read_all", codes.InvalidArgument, "direction is the empty string, which is not forward or backward: leave it out for the default.", enc(obj{"direction", ""}), nil},
		{"empty_direction_read_str8", "read", codes.InvalidArgument, "direction is the empty string written as str8 (0xd9 0x00).", enc(obj{"stream", "order-1001", "direction", raw{0xd9, 0x00}}), nil},
		{"filter_empty_event_type", "read_all", codes.InvalidEventType, "An empty string in filter.event_types.", enc(obj{"filter", obj{"event_types", []any{"OrderPlaced", ""}}}), nil},
		{"filter_too_many_event_types", "read_all", codes.InvalidArgument, "101 entries in filter.event_types.", enc(obj{"filter", obj{"event_types", typesN}}), nil},
		{"filter_category_control_char", "read_all", codes.InvalidArgument, "A control character in filter.category.", enc(obj{"filter", obj{"category", "order\x00"}}), nil},

		// list_streams.
		{"list_limit_too_large", "list_streams", codes.InvalidArgument, "limit 1001; the maximum is 1000.", enc(obj{"limit", 1001}), nil},
		{"list_limit_zero", "list_streams", codes.InvalidArgument, "limit 0.", enc(obj{"limit", 0}), nil},
		{"list_prefix_too_long", "list_streams", codes.InvalidArgument, "A prefix of 513 bytes.", enc(obj{"prefix", strings.Repeat("p", 513)}), nil},

		// Operation.
		{"unknown_operation", "compact", codes.UnknownOperation, "A valid payload sent to an operation that does not exist (subject store.<store>.compact).", []byte{0x80}, nil},
	}
}

// ---- output ------------------------------------------------------------

type file struct {
	path string
	data []byte
}

func build() ([]file, error) {
	var out []file
	seen := map[string]bool{}
	for _, g := range slices.Concat(goldens(), storeGoldens(), snapshotGoldens(), backupGoldens()) {
		if seen[g.name] {
			return nil, fmt.Errorf("duplicate case %s", g.name)
		}
		seen[g.name] = true
		if got := fmt.Sprintf("%T", g.value); got != "wire."+g.message {
			return nil, fmt.Errorf("%s: value is %s, message says %s", g.name, got, g.message)
		}
		b, err := wire.Marshal(g.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		val, err := toJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		type envelope struct {
			Message     string          `json:"message"`
			Operation   string          `json:"operation,omitempty"`
			Kind        string          `json:"kind"`
			Description string          `json:"description"`
			Value       json.RawMessage `json:"value"`
		}
		j, err := marshalJSON(envelope{g.message, g.operation, g.kind, g.description, val})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		out = append(out, file{g.name + ".msgpack", b}, file{g.name + ".json", j})
	}

	type caseInfo struct {
		Operation   string         `json:"operation"`
		Code        string         `json:"code"`
		CodeNumber  int            `json:"code_number"`
		Description string         `json:"description"`
		Limits      map[string]int `json:"limits,omitempty"`
	}
	index := map[string]caseInfo{} // encoding/json sorts the keys
	for _, c := range slices.Concat(invalids(), storeInvalids(), snapshotInvalids(), backupInvalids()) {
		name := c.name + ".msgpack"
		if _, dup := index[name]; dup {
			return nil, fmt.Errorf("duplicate invalid case %s", c.name)
		}
		index[name] = caseInfo{c.operation, c.code.Name(), int(c.code), c.description, c.limits}
		out = append(out, file{filepath.Join("invalid", name), c.data})
	}
	j, err := marshalJSON(index)
	if err != nil {
		return nil, err
	}
	out = append(out, file{filepath.Join("invalid", "cases.json"), j})
	psub, err := psubFiles() // persistent subscriptions, in testdata/psub (psub.go)
	if err != nil {
		return nil, err
	}
	out = append(out, backupFiles()...) // the example backup file (backup.go)
	return append(out, psub...), nil
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toJSON renders one MessagePack value as compact JSON, keeping map keys in
// wire order and writing bin as base64 strings.
func toJSON(b []byte) (json.RawMessage, error) {
	d := msgpack.NewDecoder(bytes.NewReader(b))
	var buf bytes.Buffer
	if err := writeJSON(d, &buf); err != nil {
		return nil, err
	}
	if _, err := d.PeekCode(); err == nil {
		return nil, errors.New("trailing bytes")
	}
	return buf.Bytes(), nil
}

func writeJSON(d *msgpack.Decoder, buf *bytes.Buffer) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	str := func(s string) {
		e := json.NewEncoder(buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(s)
		buf.Truncate(buf.Len() - 1) // Encode adds a newline
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, err := d.DecodeString()
			if err != nil {
				return err
			}
			str(k)
			buf.WriteByte(':')
			if err := writeJSON(d, buf); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return err
		}
		buf.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(d, buf); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return err
		}
		str(s)
	case msgpcode.IsBin(c):
		v, err := d.DecodeBytes()
		if err != nil {
			return err
		}
		str(base64.StdEncoding.EncodeToString(v))
	case c == msgpcode.Nil:
		if err := d.DecodeNil(); err != nil {
			return err
		}
		buf.WriteString("null")
	case c == msgpcode.True || c == msgpcode.False:
		v, err := d.DecodeBool()
		if err != nil {
			return err
		}
		fmt.Fprint(buf, v)
	case c <= 0x7f || c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64:
		v, err := d.DecodeUint64()
		if err != nil {
			return err
		}
		fmt.Fprint(buf, v)
	case c >= 0xe0 || c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		v, err := d.DecodeInt64()
		if err != nil {
			return err
		}
		fmt.Fprint(buf, v)
	default:
		return fmt.Errorf("unexpected MessagePack code %#x in a message", c)
	}
	return nil
}

// findDir returns schemas/testdata, looked for from the working directory up.
func findDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "schemas", "testdata")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no schemas/testdata above the working directory; use -dir")
		}
		dir = parent
	}
}

func main() {
	write := flag.Bool("write", false, "write the files (default: only check that they are up to date)")
	dirFlag := flag.String("dir", "", "the schemas/testdata directory (default: found from the working directory up)")
	flag.Parse()
	if err := run(*write, *dirFlag); err != nil {
		fmt.Fprintln(os.Stderr, "gengolden:", err)
		os.Exit(1)
	}
}

func run(write bool, dir string) error {
	if dir == "" {
		var err error
		if dir, err = findDir(); err != nil {
			return err
		}
	}
	files, err := build()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var stale []string
	for _, f := range files {
		want[f.path] = true
		p := filepath.Join(dir, f.path)
		old, err := os.ReadFile(p)
		if err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if !write {
			stale = append(stale, f.path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", p)
	}
	// Generated files that no case produces any more.
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		ext := filepath.Ext(rel)
		if want[rel] || (ext != ".msgpack" && ext != ".json") {
			return nil
		}
		if !write {
			stale = append(stale, rel+" (obsolete)")
			return nil
		}
		fmt.Println("removed", p)
		return os.Remove(p)
	})
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		return fmt.Errorf("%d files are not up to date (run with -write):\n  %s", len(stale), strings.Join(stale, "\n  "))
	}
	return nil
}

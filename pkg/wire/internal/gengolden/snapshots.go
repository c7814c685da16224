package main

import (
	"bytes"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Aggregate snapshots: store.<store>.snapshot_save, snapshot_read,
// snapshot_list and snapshot_delete (schemas/snapshots.md).

var (
	orderState = []byte(`{"order_id":"o-1001","status":"shipped","total_cents":4599}`)
	snapMeta   = []byte(`{"schema":2}`)
)

func snapshotGoldens() []golden {
	return []golden{
		{"snapshot_save_request_minimal", "SaveSnapshotRequest", "snapshot_save", "request",
			"The smallest valid save: stream, version and type. Version 0 is encoded, not omitted. No data (an empty snapshot), keep_last absent (keep every snapshot).",
			wire.SaveSnapshotRequest{Stream: "order-1001", Version: i64(0), Type: "OrderState"}},
		{"snapshot_save_request_full", "SaveSnapshotRequest", "snapshot_save", "request",
			"Every field: the state of order-1001 at revision 1234, with metadata, content types, and keep_last 3 (the stream keeps its 3 highest versions).",
			wire.SaveSnapshotRequest{Stream: "order-1001", Version: i64(1234), Type: "OrderState.v2", Data: orderState, DataContentType: ctJSON,
				Metadata: snapMeta, MetadataContentType: ctJSON, KeepLast: i64(3)}},
		{"snapshot_save_reply", "SaveSnapshotReply", "snapshot_save", "reply",
			"A new snapshot: created is the commit time. duplicate and pruned are absent.",
			wire.SaveSnapshotReply{Stream: "order-1001", Version: 1234, Created: ts1}},
		{"snapshot_save_reply_duplicate", "SaveSnapshotReply", "snapshot_save", "reply",
			"The same snapshot saved again (a retry): duplicate true with the original created time; with keep_last, pruned says how many older snapshots it removed.",
			wire.SaveSnapshotReply{Stream: "order-1001", Version: 1234, Created: ts1, Duplicate: true, Pruned: 2}},

		{"snapshot_read_request_latest", "ReadSnapshotRequest", "snapshot_read", "request",
			"The latest snapshot of a stream: max_version absent.",
			wire.ReadSnapshotRequest{Stream: "order-1001"}},
		{"snapshot_read_request_at_or_below", "ReadSnapshotRequest", "snapshot_read", "request",
			"The latest snapshot at or below version 1500.",
			wire.ReadSnapshotRequest{Stream: "order-1001", MaxVersion: i64(1500)}},
		{"snapshot_read_reply", "Snapshot", "snapshot_read", "reply",
			"A stored snapshot: every field is always present. Continue with the stream's events from version + 1.",
			wire.Snapshot{Stream: "order-1001", Version: 1234, Type: "OrderState.v2", Data: orderState, DataContentType: ctJSON,
				Metadata: snapMeta, MetadataContentType: ctJSON, Created: ts1}},
		{"snapshot_read_reply_empty", "Snapshot", "snapshot_read", "reply",
			"A snapshot saved without data, metadata or content types: an empty bin and empty strings, never absent.",
			wire.Snapshot{Stream: "order-1001", Version: 0, Type: "OrderState", Data: []byte{}, Metadata: []byte{}, Created: ts2}},

		{"snapshot_list_request_minimal", "ListSnapshotsRequest", "snapshot_list", "request",
			"The first page (up to 100) of a stream's snapshots, in version order.",
			wire.ListSnapshotsRequest{Stream: "order-1001"}},
		{"snapshot_list_request", "ListSnapshotsRequest", "snapshot_list", "request",
			"The next page of at most 2 snapshots after version 0.",
			wire.ListSnapshotsRequest{Stream: "order-1001", After: i64(0), Limit: i64(2)}},
		{"snapshot_list_reply", "ListSnapshotsReply", "snapshot_list", "reply",
			"A full page (of limit 1) with more to come: next is the last version of the page, to pass as after; here 0, which is encoded, not omitted.",
			wire.ListSnapshotsReply{Stream: "order-1001", Snapshots: []wire.SnapshotInfo{
				{Version: 0, Type: "OrderState", DataSize: 0, MetadataSize: 0, Created: ts0},
			}, Next: u64(0)}},
		{"snapshot_list_reply_last", "ListSnapshotsReply", "snapshot_list", "reply",
			"The last page: next is absent.",
			wire.ListSnapshotsReply{Stream: "order-1001", Snapshots: []wire.SnapshotInfo{
				{Version: 1000, Type: "OrderState.v2", DataSize: 59, MetadataSize: 12, Created: ts1},
				{Version: 1234, Type: "OrderState.v2", DataSize: 70000, MetadataSize: 12, Created: ts2},
			}}},
		{"snapshot_list_reply_empty", "ListSnapshotsReply", "snapshot_list", "reply",
			"A stream without snapshots (or none after the cursor): an empty array, next absent.",
			wire.ListSnapshotsReply{Stream: "order-1001", Snapshots: []wire.SnapshotInfo{}}},

		{"snapshot_delete_request_one", "DeleteSnapshotRequest", "snapshot_delete", "request",
			"Delete the snapshot of version 1000.",
			wire.DeleteSnapshotRequest{Stream: "order-1001", Version: i64(1000)}},
		{"snapshot_delete_request_all", "DeleteSnapshotRequest", "snapshot_delete", "request",
			"Delete every snapshot of the stream: version absent.",
			wire.DeleteSnapshotRequest{Stream: "order-1001"}},
		{"snapshot_delete_reply", "DeleteSnapshotReply", "snapshot_delete", "reply",
			"How many snapshots were deleted (deleting all of none answers 0).",
			wire.DeleteSnapshotReply{Stream: "order-1001", Deleted: 3}},
	}
}

func snapshotInvalids() []invalid {
	m := func(kv ...any) []byte { return enc(obj(kv)) }
	return []invalid{
		{"snapshot_save_missing_version", "snapshot_save", codes.InvalidArgument, "version is required.", m("stream", "order-1001", "type", "OrderState"), nil},
		{"snapshot_save_negative_version", "snapshot_save", codes.InvalidArgument, "version -1.", m("stream", "order-1001", "version", -1, "type", "OrderState"), nil},
		{"snapshot_save_version_string", "snapshot_save", codes.InvalidArgument, "version is a string.", m("stream", "order-1001", "version", "7", "type", "OrderState"), nil},
		{"snapshot_save_missing_type", "snapshot_save", codes.InvalidArgument, "type is required.", m("stream", "order-1001", "version", 7), nil},
		{"snapshot_save_type_too_long", "snapshot_save", codes.InvalidArgument, "A type of 257 bytes.", m("stream", "order-1001", "version", 7, "type", strings.Repeat("T", 257)), nil},
		{"snapshot_save_data_int", "snapshot_save", codes.InvalidArgument, "data is an integer, not bin.", m("stream", "order-1001", "version", 7, "type", "OrderState", "data", 5), nil},
		{"snapshot_save_keep_last_zero", "snapshot_save", codes.InvalidArgument, "keep_last 0; absent keeps every snapshot.", m("stream", "order-1001", "version", 7, "type", "OrderState", "keep_last", 0), nil},
		{"snapshot_save_unknown_field", "snapshot_save", codes.InvalidArgument, "An unknown key (there is no overwrite flag).", m("stream", "order-1001", "version", 7, "type", "OrderState", "overwrite", true), nil},
		{"snapshot_save_reserved_stream", "snapshot_save", codes.InvalidStream, "Names starting with $ are reserved.", m("stream", "$all", "version", 7, "type", "OrderState"), nil},
		{"snapshot_save_too_large", "snapshot_save", codes.EventTooLarge, "A snapshot of 64 bytes (type + data) with max_event_size 63.", m("stream", "order-1001", "version", 7, "type", "Big", "data", bytes.Repeat([]byte{'x'}, 61)), map[string]int{"max_event_size": 63}},
		{"snapshot_read_negative_max_version", "snapshot_read", codes.InvalidArgument, "max_version -1.", m("stream", "order-1001", "max_version", -1), nil},
		{"snapshot_read_version_key", "snapshot_read", codes.InvalidArgument, "snapshot_read takes max_version, not version.", m("stream", "order-1001", "version", 3), nil},
		{"snapshot_read_missing_stream", "snapshot_read", codes.InvalidStream, "The empty map.", []byte{0x80}, nil},
		{"snapshot_list_limit_too_large", "snapshot_list", codes.InvalidArgument, "limit 1001; the maximum is 1000.", m("stream", "order-1001", "limit", 1001), nil},
		{"snapshot_list_negative_after", "snapshot_list", codes.InvalidArgument, "after -1.", m("stream", "order-1001", "after", -1), nil},
		{"snapshot_delete_version_float", "snapshot_delete", codes.InvalidArgument, "version is a float64.", m("stream", "order-1001", "version", 3.0), nil},
		{"snapshot_delete_nil", "snapshot_delete", codes.MalformedRequest, "MessagePack nil instead of a map.", []byte{0xc0}, nil},
	}
}

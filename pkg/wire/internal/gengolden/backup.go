package main

import (
	"bytes"
	"encoding/binary"
	"path/filepath"

	"github.com/logbookdb/logbook/pkg/backupfile"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Backup and restore: store.<store>.backup and store.<store>.restore, and
// the backup file (schemas/backup.md).

const session = "9f2c4e1a7b3d5f60e8a1c2b4"

var (
	backupHeader = wire.BackupHeader{Format: wire.BackupFormat, Store: "orders", Position: 3, LastTimestamp: ts2,
		SubscriptionGeneration: 1, Taken: ts2 + 1000, ServerVersion: "1.4.0"}
	backupEvents = []wire.BackupEvent{
		{Position: 0, ID: id1, Stream: "order-1001", Type: "OrderPlaced", Revision: 0, Timestamp: ts1,
			Data: orderPlaced, DataContentType: ctJSON, Metadata: meta, MetadataContentType: ctJSON},
		{Position: 1, ID: id2, Stream: "order-1001", Type: "OrderShipped", Revision: 1, Timestamp: ts1,
			Data: orderShipped, DataContentType: ctJSON, Metadata: []byte{}},
		{Position: 2, ID: id3, Stream: "cart-7", Type: "CartOpened", Revision: 0, Timestamp: ts2, Data: []byte{}, Metadata: []byte{}},
	}
	backupStreams = []wire.BackupStream{
		{Stream: "cart-7", LastRevision: 0, Count: 1, FirstPosition: 2, LastPosition: 2, Created: ts2, Updated: ts2 + 5, Deleted: true},
		{Stream: "order-1001", LastRevision: 1, Count: 2, FirstPosition: 0, LastPosition: 1, Created: ts1, Updated: ts1},
	}
	backupSnapshots = []wire.BackupSnapshot{
		{Stream: "order-1001", Version: 1, Type: "OrderState", Data: orderState, DataContentType: ctJSON, Metadata: []byte{}, Created: ts2},
	}
	backupSubs = []wire.BackupSubscription{
		{Name: "billing", Generation: 1, Category: "order", EventTypes: []string{"OrderPlaced", "OrderShipped"}, Start: "start",
			MaxInFlight: 20, AckTimeoutMs: 30000, MaxRetries: 10, Strategy: wire.StrategyRoundRobin, Created: ts1, Updated: ts1,
			Checkpoint: 2, High: 66, Parked: 1},
	}
	backupParked = []wire.BackupParked{{Subscription: "billing", Position: 1, Reason: "handler failed 11 times", DeliveryCount: 11, Parked: ts2}}
	backupCounts = wire.BackupCounts{Events: 3, Streams: 2, Snapshots: 1, Subscriptions: 1, Parked: 1}
	// The example file's chunks: events; streams, snapshots, subscriptions
	// and parked events.
	backupChunks = []wire.BackupChunk{
		{Events: backupEvents},
		{Streams: backupStreams, Snapshots: backupSnapshots, Subscriptions: backupSubs, Parked: backupParked},
	}
)

func backupGoldens() []golden {
	return []golden{
		{"backup_request_open", "BackupRequest", "backup", "request",
			"The first request of a backup: no session. It opens one on the store's leader and returns chunk 0 with the header.",
			wire.BackupRequest{}},
		{"backup_request_next", "BackupRequest", "backup", "request",
			"The next chunk (1) of an open session. Asking for the last chunk received again is a resend: the same chunk comes back.",
			wire.BackupRequest{Session: session, Seq: 1}},
		{"backup_request_cancel", "BackupRequest", "backup", "request",
			"Ends the session at once, releasing the leader's snapshot.",
			wire.BackupRequest{Session: session, Seq: 1, Cancel: true}},
		{"backup_reply_first", "BackupReply", "backup", "reply",
			"Chunk 0: the header (the backup is consistent to position 3: events 0 to 2) and the first records.",
			wire.BackupReply{Session: session, Seq: 0, Header: &backupHeader, Chunk: backupChunks[0]}},
		{"backup_reply_last", "BackupReply", "backup", "reply",
			"The last chunk: done, with the counts of every record sent.",
			wire.BackupReply{Session: session, Seq: 1, Chunk: backupChunks[1], Done: true, Counts: &backupCounts}},
		{"restore_request_header", "RestoreRequest", "restore", "request",
			"Step 0 begins the restore with the backup's header (refused with store_not_empty unless the store is empty).",
			wire.RestoreRequest{Seq: 0, Header: &backupHeader}},
		{"restore_request_chunk", "RestoreRequest", "restore", "request",
			"Step 1: a chunk of records, in the backup's order.",
			wire.RestoreRequest{Seq: 1, Chunk: &backupChunks[0]}},
		{"restore_request_counts", "RestoreRequest", "restore", "request",
			"The last step: the counts, which must match what was restored; it completes the restore.",
			wire.RestoreRequest{Seq: 3, Counts: &backupCounts}},
		{"restore_reply", "RestoreReply", "restore", "reply",
			"A step applied: what the store holds so far.",
			wire.RestoreReply{Seq: 1, Restored: wire.BackupCounts{Events: 3}}},
		{"restore_reply_completed", "RestoreReply", "restore", "reply",
			"The last step applied: the restore is complete (the store becomes running).",
			wire.RestoreReply{Seq: 3, Restored: backupCounts, Completed: true}},
		{"backup_trailer", "BackupTrailer", "", "part",
			"The trailer frame of the example backup file (backup/example.lbb): the counts and the SHA-256 of every byte before its frame.",
			exampleTrailer()},
	}
}

func backupInvalids() []invalid {
	return []invalid{
		{"backup_seq_without_session", "backup", codes.InvalidArgument, "seq 3 without a session.", enc(obj{"seq", 3}), nil},
		{"backup_negative_seq", "backup", codes.InvalidArgument, "A negative seq.", enc(obj{"session", session, "seq", -1}), nil},
		{"restore_seq0_without_header", "restore", codes.InvalidArgument, "Step 0 without the header.", enc(obj{"seq", 0}), nil},
		{"restore_wrong_format", "restore", codes.UnsupportedBackupVersion, "A header of format 2.",
			enc(obj{"seq", 0, "header", obj{"format", 2, "store", "orders", "position", 0, "last_timestamp", 0, "subscription_generation", 0, "taken", 0}}), nil},
		{"restore_chunk_and_counts", "restore", codes.InvalidArgument, "A step with both a chunk and the counts.",
			enc(obj{"seq", 1, "chunk", obj{}, "counts", obj{"events", 0, "streams", 0, "snapshots", 0, "subscriptions", 0, "parked", 0}}), nil},
		{"restore_event_bad_id", "restore", codes.InvalidBackup, "An event whose id is not a UUID.",
			enc(obj{"seq", 1, "chunk", obj{"events", []any{obj{"position", 0, "id", "nope", "stream", "s", "type", "T", "revision", 0, "timestamp", 0, "data", []byte{}, "metadata", []byte{}}}}}), nil},
	}
}

// exampleFile is the example backup file: the header and chunks above.
func exampleFile() []byte {
	var buf bytes.Buffer
	w := backupfile.NewWriter(&buf)
	if err := w.WriteHeader(&backupHeader); err != nil {
		panic(err)
	}
	for i := range backupChunks {
		if err := w.WriteChunk(&backupChunks[i]); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// exampleTrailer is the trailer of the example file, read back from its
// last frame: kind, length (4 bytes), payload, CRC (4 bytes).
func exampleTrailer() wire.BackupTrailer {
	f := exampleFile()
	if _, _, err := backupfile.Verify(bytes.NewReader(f)); err != nil {
		panic(err)
	}
	for i := len(f) - 9; i >= 0; i-- {
		n := int(binary.BigEndian.Uint32(f[i+1 : i+5]))
		if f[i] == backupfile.KindTrailer && i+5+n+4 == len(f) {
			var t wire.BackupTrailer
			if err := wire.UnmarshalReply(f[i+5:i+5+n], &t); err != nil {
				panic(err)
			}
			return t
		}
	}
	panic("no trailer")
}

func backupFiles() []file {
	return []file{{filepath.Join("backup", "example.lbb"), exampleFile()}}
}

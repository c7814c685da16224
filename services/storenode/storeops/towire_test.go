package storeops

import (
	"bytes"
	"slices"
	"testing"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// The values the state machines store are those the client protocol
// reports: statuses and starts pass through unchanged.
func TestStoredValuesAreTheProtocols(t *testing.T) {
	stored := []string{meta.StatusCreating, meta.StatusRunning, meta.StatusDegraded, meta.StatusRemoving,
		sm.StartAtStart, sm.StartAtEnd, sm.StartAtPosition}
	protocol := []string{wire.StatusCreating, wire.StatusRunning, wire.StatusDegraded, wire.StatusRemoving,
		wire.StartAtStart, wire.StartAtEnd, wire.StartAtPosition}
	if !slices.Equal(stored, protocol) {
		t.Fatalf("stored %q, the protocol says %q", stored, protocol)
	}
}

// Converted events share their payloads with the state machine's answer
// (reads of 1,000 events copy no bytes), and empty pages encode as empty
// lists, never as nil.
func TestReadRepliesShareThePayloads(t *testing.T) {
	ev := sm.Event{ID: "0190a0a0-0000-7000-8000-000000000001", Stream: "s-1", Type: "T", Revision: 3, Position: 9,
		Timestamp: 5, Data: []byte("data"), DataContentType: "a/b", Metadata: []byte("meta"), MetadataContentType: "c/d"}
	r := readReply(&sm.StreamPage{Events: []sm.Event{ev}, NextRevision: 4, EndOfStream: true, LastRevision: 3}).(*wire.ReadReply)
	got := r.Events[0]
	if &got.Data[0] != &ev.Data[0] || &got.Metadata[0] != &ev.Metadata[0] {
		t.Fatal("the payloads were copied")
	}
	want := wire.RecordedEvent{ID: ev.ID, Stream: "s-1", Type: "T", Revision: 3, Position: 9, Timestamp: 5,
		Data: ev.Data, DataContentType: "a/b", Metadata: ev.Metadata, MetadataContentType: "c/d"}
	a, _ := wire.Marshal(got)
	b, _ := wire.Marshal(want)
	if !bytes.Equal(a, b) || r.NextRevision != 4 || !r.EndOfStream || r.LastRevision != 3 {
		t.Fatalf("converted %+v", r)
	}
	for _, v := range []any{
		readReply(&sm.StreamPage{}).(*wire.ReadReply).Events, readAllReply(&sm.AllPage{}).(*wire.ReadAllReply).Events,
		listStreamsReply(&sm.StreamList{}).Streams, listSnapshotsReply(&sm.SnapshotPage{}).Snapshots,
		parkedReply(&sm.PSubParkedResult{}).Events,
	} {
		if b, _ := wire.Marshal(v); !bytes.Equal(b, []byte{0x90}) {
			t.Fatalf("%T of an empty page encodes as %x, want an empty list", v, b)
		}
	}
}

package sm

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
)

// BenchmarkEncodeBatch64 encodes the Raft entry of 64 one-event appends of
// 256 bytes, what the proposer does per entry at 64 clients.
func BenchmarkEncodeBatch64(b *testing.B) {
	cmds := make([]Command, 64)
	for i := range cmds {
		cmds[i] = Command{Op: OpAppend, Stream: "stream-123", Expect: ExpectExact, Revision: 42,
			Events: []EventCmd{{ID: uuid.New(), Type: "Bench", Data: make([]byte, 256)}}}
	}
	batch := &Batch{Time: 1, Cmds: cmds}
	b.ReportAllocs()
	for range b.N {
		if _, err := EncodeBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// EncodeBatch's output is the version byte followed by msgpack.Marshal of
// the batch, byte for byte: entries written before and after the buffer
// sizing read the same.
func TestEncodeBatchIsVersionThenMsgpack(t *testing.T) {
	for _, b := range []*Batch{
		{Time: 7},
		{Time: 1 << 50, Cmds: []Command{
			{Op: OpAppend, Stream: "s", Expect: ExpectExact, Revision: 3, Events: []EventCmd{
				{ID: uuid.New(), Type: "T", Data: make([]byte, 70000), DataContentType: "application/json", Metadata: []byte("m"), MetadataContentType: "x"},
				{ID: uuid.New(), Type: "U"},
			}},
			{Op: OpDelete, Stream: "other", Expect: ExpectAny},
			{Op: OpSnapshotSave, Stream: "s", Aux: []byte{0x91, 0x01}},
		}},
	} {
		got, err := EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		body, err := msgpack.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := append([]byte{EntryVersion}, body...); !bytes.Equal(got, want) {
			t.Fatalf("EncodeBatch gave %d bytes, version + msgpack %d", len(got), len(want))
		}
		if len(got) > batchSizeHint(b) {
			t.Errorf("entry of %d bytes outgrew its size hint %d", len(got), batchSizeHint(b))
		}
	}
}

package backupfile_test

// Fuzz target:
//
//	go test -run='^$' -fuzz='^FuzzReadBackupFile$' -fuzztime=20000x ./backupfile/

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/logbookdb/logbook/pkg/backupfile"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

func sample() (*wire.BackupHeader, []wire.BackupChunk) {
	h := &wire.BackupHeader{Format: wire.BackupFormat, Store: "orders", Position: 3, LastTimestamp: 30, SubscriptionGeneration: 1, Taken: 99, ServerVersion: "0.1.0"}
	chunks := []wire.BackupChunk{
		{Events: []wire.BackupEvent{
			{Position: 0, ID: "0190a6e2-0000-7000-8000-000000000000", Stream: "order-1", Type: "Placed", Revision: 0, Timestamp: 10, Data: []byte(`{"a":1}`), DataContentType: "application/json", Metadata: []byte{}},
			{Position: 1, ID: "0190a6e2-0000-7000-8000-000000000001", Stream: "order-1", Type: "Paid", Revision: 1, Timestamp: 20, Data: []byte{}, Metadata: []byte("m")},
		}},
		{Events: []wire.BackupEvent{{Position: 2, ID: "0190a6e2-0000-7000-8000-000000000002", Stream: "order-2", Type: "Placed", Timestamp: 30, Data: []byte{}, Metadata: []byte{}}},
			Streams: []wire.BackupStream{{Stream: "order-1", LastRevision: 1, Count: 2, FirstPosition: 0, LastPosition: 1, Created: 10, Updated: 20},
				{Stream: "order-2", Count: 1, FirstPosition: 2, LastPosition: 2, Created: 30, Updated: 40, Deleted: true}}},
		{Snapshots: []wire.BackupSnapshot{{Stream: "order-1", Version: 1, Type: "Order", Data: []byte("s"), Metadata: []byte{}, Created: 25}},
			Subscriptions: []wire.BackupSubscription{{Name: "billing", Generation: 1, Category: "order", Start: "start", MaxInFlight: 10, AckTimeoutMs: 30000, MaxRetries: 5, Strategy: wire.StrategyRoundRobin, Created: 5, Updated: 5, Checkpoint: 2, High: 3, Parked: 1}},
			Parked:        []wire.BackupParked{{Subscription: "billing", Position: 1, Reason: "poison", DeliveryCount: 6, Parked: 28}}},
	}
	return h, chunks
}

func write(t testing.TB) []byte {
	t.Helper()
	h, chunks := sample()
	var buf bytes.Buffer
	w := backupfile.NewWriter(&buf)
	if err := w.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	for i := range chunks {
		if err := w.WriteChunk(&chunks[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Bytes() != int64(buf.Len()) {
		t.Fatalf("Bytes %d, wrote %d", w.Bytes(), buf.Len())
	}
	return buf.Bytes()
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := wire.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func read(data []byte) (*wire.BackupHeader, []wire.BackupChunk, error) {
	r := backupfile.NewReader(bytes.NewReader(data))
	h, err := r.Header()
	if err != nil {
		return nil, nil, err
	}
	var out []wire.BackupChunk
	for {
		c, err := r.Next()
		if err == io.EOF {
			return h, out, nil
		}
		if err != nil {
			return h, out, err
		}
		out = append(out, *c)
	}
}

func wantCode(t *testing.T, what string, err error, c codes.Code) {
	t.Helper()
	if e := codes.As(err); e == nil || e.Code != c {
		t.Fatalf("%s: %v, want %s", what, err, c.Name())
	}
}

func TestRoundTrip(t *testing.T) {
	data := write(t)
	h, chunks, err := read(data)
	if err != nil {
		t.Fatal(err)
	}
	// Compared in their encoding: an empty payload reads back as nil.
	wh, wchunks := sample()
	if !reflect.DeepEqual(h, wh) || !bytes.Equal(encode(t, chunks), encode(t, wchunks)) {
		t.Fatalf("read back\n%+v\n%+v", h, chunks)
	}
	_, n, err := backupfile.Verify(bytes.NewReader(data))
	if err != nil || n != (wire.BackupCounts{Events: 3, Streams: 2, Snapshots: 1, Subscriptions: 1, Parked: 1}) {
		t.Fatalf("verify: %+v %v", n, err)
	}
}

// Every truncation of a file is refused: nothing short of the whole file,
// trailer included, reads as a backup.
func TestTruncatedIsRefused(t *testing.T) {
	data := write(t)
	for n := 0; n < len(data); n++ {
		_, _, err := backupfile.Verify(bytes.NewReader(data[:n]))
		wantCode(t, "truncated", err, codes.InvalidBackup)
	}
}

// Any flipped bit is refused (a frame checksum, the magic, a length, the
// trailer's SHA-256), except in the version, which is a version error.
func TestCorruptIsRefused(t *testing.T) {
	data := write(t)
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		_, _, err := backupfile.Verify(bytes.NewReader(bad))
		if i >= len(backupfile.Magic) && i < len(backupfile.Magic)+4 {
			wantCode(t, "version byte", err, codes.UnsupportedBackupVersion)
			continue
		}
		wantCode(t, "flipped byte", err, codes.InvalidBackup)
	}
	_, _, err := backupfile.Verify(bytes.NewReader(append(bytes.Clone(data), 0)))
	wantCode(t, "trailing byte", err, codes.InvalidBackup)
}

func TestWrongVersionIsRefused(t *testing.T) {
	data := write(t)
	binary.BigEndian.PutUint32(data[len(backupfile.Magic):], backupfile.Version+1)
	_, _, err := backupfile.Verify(bytes.NewReader(data))
	wantCode(t, "version 2", err, codes.UnsupportedBackupVersion)
}

// A file with frames that check out but records a store could not hold is
// refused too: the records pass wire.ValidateBackupChunk.
func TestInvalidRecordsAreRefused(t *testing.T) {
	h, chunks := sample()
	chunks[0].Events[1].Position = 7 // a gap
	var buf bytes.Buffer
	w := backupfile.NewWriter(&buf)
	w.WriteHeader(h)
	for i := range chunks {
		w.WriteChunk(&chunks[i])
	}
	w.Close()
	_, _, err := backupfile.Verify(&buf)
	wantCode(t, "gap", err, codes.InvalidBackup)
}

// Whatever the bytes, reading a file ends in a header and chunks that
// validate, or a *codes.Error: never a panic, never another error.
func FuzzReadBackupFile(f *testing.F) {
	data := write(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(backupfile.Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, chunks, err := read(b)
		if err != nil {
			if codes.As(err) == nil {
				t.Fatalf("error %v is not a *codes.Error", err)
			}
			return
		}
		if h.Format != wire.BackupFormat {
			t.Fatalf("header format %d", h.Format)
		}
		for i := range chunks {
			if err := wire.ValidateBackupChunk(&chunks[i], wire.Limits{MaxEventSize: backupfile.MaxFrame}.WithDefaults()); err != nil {
				t.Fatalf("chunk %d read but invalid: %v", i, err)
			}
		}
	})
}

// The example file of schemas/testdata (written by gengolden) reads back,
// and writing what it holds gives the same bytes: what another language's
// writer must produce.
func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "backup", "example.lbb"))
	if err != nil {
		t.Fatal(err)
	}
	h, chunks, err := read(data)
	if err != nil {
		t.Fatal(err)
	}
	if h.Store != "orders" || h.Position != 3 || len(chunks) != 2 || len(chunks[0].Events) != 3 {
		t.Fatalf("example: %+v, %d chunks", h, len(chunks))
	}
	var buf bytes.Buffer
	w := backupfile.NewWriter(&buf)
	w.WriteHeader(h)
	for i := range chunks {
		w.WriteChunk(&chunks[i])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("writing the example's content does not give the example's bytes")
	}
}

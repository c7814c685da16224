package sm

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// roundTrip passes v the way a result travels: encoded by the apply into a
// Result, the batch's results encoded into dragonboat's result, decoded by
// the proposer, and read back as the op's type.
func roundTrip[R any](t *testing.T, v R) {
	t.Helper()
	rs, err := DecodeResults(EncodeResults([]Result{successResult(v)}))
	if err != nil || len(rs) != 1 {
		t.Fatalf("%T: decode results: %v", v, err)
	}
	got, err := ResultAs[R](rs[0])
	if err != nil {
		t.Fatalf("%T: %v", v, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("%T: %+v came back as %+v", v, v, got)
	}
}

// Each op's typed result survives encoding and decoding, every field set.
func TestTypedResultsRoundTrip(t *testing.T) {
	covered := map[uint8]func(*testing.T){
		OpAppend: func(t *testing.T) {
			roundTrip(t, AppendResult{FirstRevision: 1, LastRevision: 2, FirstPosition: 3, LastPosition: 4, Timestamp: 5, Duplicate: true})
		},
		OpDelete:   func(t *testing.T) { roundTrip(t, DeleteResult{LastRevision: 7, Timestamp: 8, Duplicate: true}) },
		OpSetQuota: func(t *testing.T) { roundTrip(t, SetQuotaResult{Changed: true}) },
		OpSnapshotSave: func(t *testing.T) {
			roundTrip(t, SnapshotSaveResult{Version: 9, Created: 10, Duplicate: true, Pruned: 11})
		},
		OpSnapshotDelete: func(t *testing.T) { roundTrip(t, SnapshotDeleteResult{Deleted: 12}) },
		OpPSubCreate: func(t *testing.T) {
			roundTrip(t, PSubCreateResult{StartPosition: 13, Created: 14, Duplicate: true})
		},
		OpPSubUpdate:   func(t *testing.T) { roundTrip(t, PSubUpdateResult{Updated: 15}) },
		OpPSubDelete:   func(t *testing.T) { roundTrip(t, PSubDeleteResult{}) },
		OpPSubProgress: func(t *testing.T) { roundTrip(t, PSubProgressResult{Checkpoint: 16}) },
		OpRestore: func(t *testing.T) {
			roundTrip(t, RestoreResult{Seq: 17, Restored: wire.BackupCounts{Events: 18, Streams: 19, Snapshots: 20, Subscriptions: 21, Parked: 22}, Completed: true, Duplicate: true})
		},
	}
	for op, fn := range ops {
		if fn == nil {
			continue
		}
		check, ok := covered[uint8(op)]
		if !ok {
			t.Errorf("op %d has no round-trip case", op)
			continue
		}
		t.Run(fmt.Sprint(op), check)
	}
}

// An outcome becomes a result and comes back as the same error: code,
// message and the stream's current revision.
func TestErrorResultRoundTrip(t *testing.T) {
	cur := uint64(41)
	for _, in := range []*codes.Error{
		{Code: codes.WrongExpectedRevision, Message: "expected no stream, stream is at revision 41", CurrentRevision: &cur},
		{Code: codes.WrongExpectedRevision, Message: "expected revision 3, stream does not exist"},
		{Code: codes.SnapshotConflict, Message: "other content"},
	} {
		r, ok := errorResult(fmt.Errorf("wrapped: %w", in))
		if !ok {
			t.Fatalf("%v did not become a result", in)
		}
		rs, err := DecodeResults(EncodeResults([]Result{r}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ResultAs[AppendResult](rs[0])
		var out *codes.Error
		if !errors.As(err, &out) || out.Code != in.Code || out.Message != in.Message ||
			(out.CurrentRevision == nil) != (in.CurrentRevision == nil) ||
			(in.CurrentRevision != nil && *out.CurrentRevision != *in.CurrentRevision) {
			t.Fatalf("%+v came back as %+v", in, err)
		}
		if rs[0].Err().Error() != in.Error() {
			t.Fatalf("Err() = %v, want %v", rs[0].Err(), in)
		}
	}
	// A local failure is not an outcome: it never becomes a result.
	if _, ok := errorResult(errors.New("disk on fire")); ok {
		t.Fatal("a local error became a result")
	}
	if err := (Result{Body: encode(AppendResult{})}).Err(); err != nil {
		t.Fatalf("a success is an error: %v", err)
	}
}

// A command with an op outside the table was written by a newer build:
// the replica halts (Update fails: nothing of the entry is applied) rather
// than answer it with an error while newer replicas apply it.
func TestUnknownOpHaltsTheReplica(t *testing.T) {
	s, _ := open(t, t.TempDir())
	defer s.Close()
	_, err := s.Update([]dbsm.Entry{entry(t, 1, 10,
		appendCmd("x", ExpectAny, 0, 1),
		Command{Op: 255, Stream: "x", Aux: []byte{0xc1}},
	)})
	if !errors.Is(err, ErrNewerEntry) || !strings.Contains(err.Error(), "op 255") {
		t.Fatalf("update with an unknown op: %v", err)
	}
	if n := len(readAll(t, s)); n != 0 {
		t.Fatalf("%d events written by a halted update", n)
	}
	if s.Applied() != 0 {
		t.Fatalf("applied index %d after a halted update", s.Applied())
	}
}

// A batch's results come back in order, errors and successes side by side,
// and every truncation of their encoding is refused rather than misread.
func TestResultsEncoding(t *testing.T) {
	in := []Result{
		{Code: int(codes.WrongExpectedRevision), Message: "expected revision 3", HasCurrent: true, Current: 1 << 40},
		successResult(AppendResult{FirstRevision: 7, LastRevision: 8, Timestamp: -1}),
		{Body: encode(DeleteResult{LastRevision: 9})},
	}
	data := EncodeResults(in)
	out, err := DecodeResults(data)
	if err != nil || len(out) != 3 {
		t.Fatalf("decode: %v (%d results)", err, len(out))
	}
	if out[0].Code != in[0].Code || out[0].Message != in[0].Message || !out[0].HasCurrent || out[0].Current != in[0].Current || out[0].Body != nil {
		t.Fatalf("error result came back as %+v", out[0])
	}
	if r, err := ResultAs[AppendResult](out[1]); err != nil || r != (AppendResult{FirstRevision: 7, LastRevision: 8, Timestamp: -1}) {
		t.Fatalf("append result came back as %+v, %v", r, err)
	}
	if r, err := ResultAs[DeleteResult](out[2]); err != nil || r.LastRevision != 9 {
		t.Fatalf("delete result came back as %+v, %v", r, err)
	}
	for n := range len(data) {
		if _, err := DecodeResults(data[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded", n, len(data))
		}
	}
	if _, err := DecodeResults(append(data, 0)); err == nil {
		t.Fatal("a trailing byte was accepted")
	}
}

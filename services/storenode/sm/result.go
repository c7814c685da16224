package sm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/vmihailenco/msgpack/v5"
)

// Result is the outcome of one Command as the local apply hands it to the
// local proposer (in dragonboat's result of the entry). Results are never
// persisted nor sent to another node, so their encoding may change between
// releases; only the entries (Batch) must stay readable.
//
// A failed command carries its error (Code, Message, and the stream's
// current revision with wrong_expected_revision); a successful one carries
// its operation's result type, encoded in Body. ResultAs reads both.
//
// The apply hands the op's result over unencoded (value), and
// EncodeResults writes it once, straight into the batch's buffer, instead of
// encoding it alone and then copying those bytes into the batch.
type Result struct {
	Code       int // 0: success
	Message    string
	HasCurrent bool   // the error carries the stream's current revision
	Current    uint64 // that revision
	Body       []byte // on success: msgpack of the op's result (AppendResult, …)
	value      any    // set by the apply instead of Body: the op's result, encoded by EncodeResults
}

// successResult is the result of a command that succeeded with v.
func successResult(v any) Result { return Result{value: v} }

// The result of each operation (see the table in ops.go).
type (
	// AppendResult is the result of OpAppend.
	AppendResult struct {
		_msgpack      struct{} `msgpack:",as_array"`
		FirstRevision uint64
		LastRevision  uint64
		FirstPosition uint64
		LastPosition  uint64
		Timestamp     int64 // the commit time
		Duplicate     bool  // the events were written before, by this same append
	}
	// DeleteResult is the result of OpDelete.
	DeleteResult struct {
		_msgpack     struct{} `msgpack:",as_array"`
		LastRevision uint64
		Timestamp    int64 // when the stream was deleted
		Duplicate    bool  // it already was
	}
	// SnapshotSaveResult is the result of OpSnapshotSave.
	SnapshotSaveResult struct {
		_msgpack  struct{} `msgpack:",as_array"`
		Version   uint64
		Created   int64 // the original's, for a duplicate
		Duplicate bool  // the same snapshot was saved before
		Pruned    uint64
	}
	// SnapshotDeleteResult is the result of OpSnapshotDelete.
	SnapshotDeleteResult struct {
		_msgpack struct{} `msgpack:",as_array"`
		Deleted  uint64
	}
	// PSubCreateResult is the result of OpPSubCreate.
	PSubCreateResult struct {
		_msgpack      struct{} `msgpack:",as_array"`
		StartPosition uint64   // resolved
		Created       int64    // the original's, for a duplicate
		Duplicate     bool     // the same definition existed
	}
	// PSubUpdateResult is the result of OpPSubUpdate.
	PSubUpdateResult struct {
		_msgpack struct{} `msgpack:",as_array"`
		Updated  int64
	}
	// PSubDeleteResult is the result of OpPSubDelete: nothing beyond success.
	PSubDeleteResult struct {
		_msgpack struct{} `msgpack:",as_array"`
	}
	// PSubProgressResult is the result of OpPSubProgress.
	PSubProgressResult struct {
		_msgpack   struct{} `msgpack:",as_array"`
		Checkpoint uint64   // the replicated checkpoint after the command
	}
)

// errorResult is the one conversion of an apply error into a Result. A
// *codes.Error is an outcome every replica reaches; any other error is
// local (a disk error, a corrupt record) and must not become a result, so
// ok is false.
func errorResult(err error) (r Result, ok bool) {
	var e *codes.Error
	if !errors.As(err, &e) {
		return Result{}, false
	}
	r = Result{Code: int(e.Code), Message: e.Message}
	if e.CurrentRevision != nil {
		r.HasCurrent, r.Current = true, *e.CurrentRevision
	}
	return r, true
}

// Err is the one conversion of a Result back into an error: nil on success,
// else the *codes.Error the apply failed with.
func (r Result) Err() error {
	if r.Code == 0 {
		return nil
	}
	e := &codes.Error{Code: codes.Code(r.Code), Message: r.Message}
	if r.HasCurrent {
		cur := r.Current
		e.CurrentRevision = &cur
	}
	return e
}

// ResultAs returns a command's typed result (R is its op's result type), or
// the error it failed with.
func ResultAs[R any](r Result) (R, error) {
	var out R
	if err := r.Err(); err != nil {
		return out, err
	}
	if err := msgpack.Unmarshal(r.Body, &out); err != nil {
		return out, codes.New(codes.Internal, "undecodable %T from the state machine: %v", out, err)
	}
	return out, nil
}

// The results of a batch, one per command, as the data of dragonboat's
// result. A small framing of our own around each op's MessagePack result
// lets the apply encode that result once, straight into the batch's buffer,
// and lets the proposer take each Body as a slice of the data, uncopied:
//
//	results := uvarint(n) result*n
//	result  := uvarint(code) uvarint(len) message byte(hasCurrent) uvarint(current) u32be(len) body
//
// Results never leave the process that applied them (see Result), so this
// encoding may change between releases.

// EncodeResults encodes the results of a batch; DecodeResults reads them.
func EncodeResults(rs []Result) []byte {
	buf := bytes.NewBuffer(make([]byte, 0, 8+40*len(rs)))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	var scratch [binary.MaxVarintLen64]byte
	uvarint := func(v uint64) { buf.Write(binary.AppendUvarint(scratch[:0], v)) }
	uvarint(uint64(len(rs)))
	for i := range rs {
		r := &rs[i]
		uvarint(uint64(r.Code))
		uvarint(uint64(len(r.Message)))
		buf.WriteString(r.Message)
		if r.HasCurrent {
			buf.WriteByte(1)
		} else {
			buf.WriteByte(0)
		}
		uvarint(r.Current)
		at := buf.Len()
		buf.Write([]byte{0, 0, 0, 0}) // the body's length, set below
		switch {
		case r.value != nil:
			if err := enc.Encode(r.value); err != nil {
				// Only our own fixed types are encoded here; failing is a bug.
				panic(fmt.Sprintf("sm: encode %T: %v", r.value, err))
			}
		default:
			buf.Write(r.Body)
		}
		binary.BigEndian.PutUint32(buf.Bytes()[at:], uint32(buf.Len()-at-4))
	}
	return buf.Bytes()
}

// DecodeResults decodes the results of a batch, one per command, from the
// data of dragonboat's result. Each Body is a slice of data.
func DecodeResults(data []byte) ([]Result, error) {
	bad := func(what string) ([]Result, error) {
		return nil, fmt.Errorf("decode results: bad %s", what)
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(data)
		if n <= 0 {
			return 0, false
		}
		data = data[n:]
		return v, true
	}
	n, ok := uvarint()
	if !ok || n > uint64(len(data)) {
		return bad("count")
	}
	rs := make([]Result, n)
	for i := range rs {
		r := &rs[i]
		code, ok := uvarint()
		if !ok || code > math.MaxInt32 {
			return bad("code")
		}
		r.Code = int(code)
		l, ok := uvarint()
		if !ok || l > uint64(len(data)) {
			return bad("message")
		}
		r.Message, data = string(data[:l]), data[l:]
		if len(data) < 1 || data[0] > 1 {
			return bad("current")
		}
		r.HasCurrent, data = data[0] == 1, data[1:]
		if r.Current, ok = uvarint(); !ok || len(data) < 4 {
			return bad("current")
		}
		l, data = uint64(binary.BigEndian.Uint32(data)), data[4:]
		if l > uint64(len(data)) {
			return bad("body")
		}
		if l > 0 {
			r.Body = data[:l:l]
		}
		data = data[l:]
	}
	if len(data) != 0 {
		return bad("trailer")
	}
	return rs, nil
}

package sm

import (
	"errors"
	"fmt"

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
type Result struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Code       int      // 0: success
	Message    string
	HasCurrent bool   // the error carries the stream's current revision
	Current    uint64 // that revision
	Body       []byte // on success: msgpack of the op's result (AppendResult, …)
}

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

// DecodeResults decodes the results of a batch, one per command, from the
// data of dragonboat's result.
func DecodeResults(data []byte) ([]Result, error) {
	var rs []Result
	if err := msgpack.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("decode results: %w", err)
	}
	return rs, nil
}

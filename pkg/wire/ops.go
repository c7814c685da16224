package wire

import (
	"maps"
	"slices"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
)

// StoreOp is what the pkg layer knows of one operation on a store
// (store.<store>.<op>): how to validate its request and whether a client may
// send it again.
type StoreOp struct {
	// Decode validates a request of the operation; an error is a *codes.Error.
	// The gateway calls it before forwarding.
	Decode func(data []byte, l Limits) error
	// Resendable is true when an attempt timeout may send the request again
	// because a second copy changes nothing: appends are deduplicated by event
	// id, deletes are idempotent, reads read. The client and the gateway
	// read it.
	Resendable bool
}

// StoreOps is the table of store operations, keyed by the last token of the
// subject (a subjects.Op* constant): adding an operation is one entry here
// (and its handler on the storenode). A key written twice does not compile.
var StoreOps = map[string]StoreOp{
	subjects.OpAppend:       {Decode: check(DecodeAppend), Resendable: true},
	subjects.OpRead:         {Decode: check2(DecodeRead), Resendable: true},
	subjects.OpReadAll:      {Decode: check2(DecodeReadAll), Resendable: true},
	subjects.OpListStreams:  {Decode: check2(DecodeListStreams), Resendable: true},
	subjects.OpStreamInfo:   {Decode: check(DecodeStreamInfo), Resendable: true},
	subjects.OpDeleteStream: {Decode: check(DecodeDeleteStream), Resendable: true},

	subjects.OpSnapshotSave:   {Decode: check(DecodeSaveSnapshot)},
	subjects.OpSnapshotRead:   {Decode: check(DecodeReadSnapshot), Resendable: true},
	subjects.OpSnapshotList:   {Decode: check2(DecodeListSnapshots), Resendable: true},
	subjects.OpSnapshotDelete: {Decode: check(DecodeDeleteSnapshot)},

	subjects.OpPSubCreate: {Decode: check(DecodeCreateSubscription)},
	subjects.OpPSubUpdate: {Decode: check(DecodeUpdateSubscription)},
	subjects.OpPSubDelete: {Decode: check(DecodeSubscriptionRequest)},
	subjects.OpPSubList:   {Decode: check(DecodeListSubscriptions), Resendable: true},
	subjects.OpPSubInfo:   {Decode: check(DecodeSubscriptionRequest), Resendable: true},
	subjects.OpPSubJoin:   {Decode: check2(DecodeJoin)},
	subjects.OpPSubAck:    {Decode: check2(DecodeAck)},
	subjects.OpPSubParked: {Decode: check2(DecodeParked), Resendable: true},
	subjects.OpPSubReplay: {Decode: check2(DecodeReplay)},

	// A resend names the chunk (backup) or step (restore) by its sequence
	// number, which the server answers again without effect.
	subjects.OpBackup:  {Decode: check(DecodeBackup), Resendable: true},
	subjects.OpRestore: {Decode: check(DecodeRestore), Resendable: true},
}

// check and check2 turn a decoder into a validator: the decoded request is
// dropped, the error kept.
func check[R any](dec func([]byte, Limits) (R, error)) func([]byte, Limits) error {
	return func(data []byte, l Limits) error {
		_, err := dec(data, l)
		return err
	}
}

func check2[R, N any](dec func([]byte, Limits) (R, N, error)) func([]byte, Limits) error {
	return func(data []byte, l Limits) error {
		_, _, err := dec(data, l)
		return err
	}
}

// StoreOpNames returns the name of every store operation, sorted.
func StoreOpNames() []string { return slices.Sorted(maps.Keys(StoreOps)) }

// DecodeRequest decodes and validates the request of any store operation;
// it is what the gateway calls before forwarding. An unknown operation is
// unknown_operation.
func DecodeRequest(op string, data []byte, l Limits) error {
	o, ok := StoreOps[op]
	if !ok {
		// The list of names is in schemas/operations.md: repeating it here
		// would outgrow the bound on error messages.
		return codes.New(codes.UnknownOperation, "unknown operation %q (the operations are listed in schemas/operations.md)", Truncate(op))
	}
	return o.Decode(data, l)
}

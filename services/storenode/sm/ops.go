package sm

// The operation table: every command the state machine applies, with the
// function that applies it and, by that function's signature, the type of
// its result. Adding an operation is one constant and one entry here.
//
// Op numbers are written in the Raft log: never renumber or reuse one.
// 1–15 are the core's, 16–23 aggregate snapshots', 24–31 persistent
// subscriptions', 32–39 backup and restore's.
const (
	OpAppend uint8 = 1 // Events to Stream; AppendResult
	OpDelete uint8 = 2 // tombstones Stream and deletes its snapshots; DeleteResult
	// OpSetQuota sets the store's quota (command version 3).
	OpSetQuota uint8 = 3 // Aux: SetQuota; SetQuotaResult

	OpSnapshotSave   uint8 = 16 // Aux: SnapshotSave; SnapshotSaveResult
	OpSnapshotDelete uint8 = 17 // Aux: SnapshotDelete; SnapshotDeleteResult

	OpPSubCreate   uint8 = 24 // Aux: PSubCreate; PSubCreateResult
	OpPSubUpdate   uint8 = 25 // Aux: PSubUpdate; PSubUpdateResult
	OpPSubDelete   uint8 = 26 // the subscription's name in Stream; PSubDeleteResult
	OpPSubProgress uint8 = 27 // Aux: PSubProgress; PSubProgressResult

	OpRestore uint8 = 32 // Aux: RestoreStep; RestoreResult (command version 2)
)

// ops maps each op to its apply function; an op without one is answered
// with an internal result (see applier.apply).
var ops = [256]applyFunc{
	OpAppend:   typed((*applier).appendEvents),
	OpDelete:   typed((*applier).deleteStream),
	OpSetQuota: typed((*applier).setQuota),

	OpSnapshotSave:   typed((*applier).saveSnapshot),
	OpSnapshotDelete: typed((*applier).deleteSnapshots),

	OpPSubCreate:   typed((*applier).createPSub),
	OpPSubUpdate:   typed((*applier).updatePSub),
	OpPSubDelete:   typed((*applier).deletePSub),
	OpPSubProgress: typed((*applier).progressPSub),

	OpRestore: typed((*applier).restore),
}

// opVersions is the store command version each op needs (0: 1, the base):
// what a replica on an older build cannot apply. Raise MaxCommandVersion
// with the op that needs it.
var opVersions = [256]uint32{
	OpRestore:  2,
	OpSetQuota: 3,
}

// OpVersion returns the store command version op needs.
func OpVersion(op uint8) uint32 { return max(opVersions[op], 1) }

// applyFunc applies one command inside the replicated apply and returns its
// typed result. It must be deterministic: it reads and writes only through
// the applier (whose batch reads its own writes) and fails with a
// *codes.Error for an outcome every replica reaches; any other error is
// local and halts the replica.
type applyFunc func(a *applier, c *Command, ts int64) (any, error)

// typed lets each apply function declare its own result type.
func typed[R any](fn func(*applier, *Command, int64) (R, error)) applyFunc {
	return func(a *applier, c *Command, ts int64) (any, error) { return fn(a, c, ts) }
}

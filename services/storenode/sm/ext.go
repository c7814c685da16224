package sm

// Extension points for operations beyond append and delete (aggregate
// snapshots, persistent subscriptions). Each feature registers its commands
// and queries from its own file, so that the core apply and query code does
// not grow a case per feature.

// ExtOp applies one registered command inside the replicated apply. Like the
// core operations it must be deterministic: it may read and write only
// through a (whose batch reads its own writes) and return a *codes.Error for
// an outcome every replica reaches; any other error halts the replica.
type ExtOp func(a *applier, c *Command, ts int64) (Result, error)

var extOps = map[uint8]ExtOp{}

// RegisterOp registers a command op (≥ 16; 1–15 are the core's). It is
// called from init functions only.
func RegisterOp(op uint8, fn ExtOp) {
	if op < 16 {
		panic("sm: ops below 16 are reserved")
	}
	if _, dup := extOps[op]; dup {
		panic("sm: op registered twice")
	}
	extOps[op] = fn
}

// ExtQuery is a query that answers itself from a consistent view of the
// committed state.
type ExtQuery interface {
	Run(v view) (any, error)
}

// streamDeleteHooks run inside the apply of a stream deletion, before the
// tombstone is written and in the same batch, so that what hangs off a
// stream (its aggregate snapshots) goes with it atomically. A hook may fail
// only with a local (fatal) error, never with an outcome.
var streamDeleteHooks []func(a *applier, stream string) error

// onStreamDelete registers a stream deletion hook, from init functions only.
func onStreamDelete(fn func(a *applier, stream string) error) {
	streamDeleteHooks = append(streamDeleteHooks, fn)
}

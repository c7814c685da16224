package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/internal/broadcast"
	"github.com/logbookdb/logbook/services/storenode/metrics"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Replica is one store's replica on this node, as long as it runs: from
// Set.Start to Set.Stop.
type Replica struct {
	spec     Spec
	raft     Raft
	proposer *proposer
	applied  *broadcast.Signal
	metrics  *metrics.Store
	sm       atomic.Pointer[sm.StateMachine] // set by dragonboat when it creates the state machine
	ctx      context.Context                 // ends when the replica stops (or the Set closes)
	stop     context.CancelFunc

	// Under Set.mu (see follow.go).
	stopped    bool               // Set.Stop took it out: never served again
	unserve    func()             // set while this node leads and serves the store
	leadCancel context.CancelFunc // stops the leader tasks

	tasks sync.WaitGroup // this replica's leader tasks (also counted in Set.tasks)

	storeVersion func() (uint32, error) // the active store command version (Config.StoreVersion)

	// active is when the replica last applied a batch, started, or was
	// woken (unix nanoseconds): how long it has been idle (Idle).
	active atomic.Int64
	// announce, if set, wakes the store's other replicas (Config.Announce),
	// called by Submit and Read when neither an apply nor an announce
	// happened for announceAfter; peersSeen is when the last of those was
	// (unix nanoseconds).
	announce      func()
	announceAfter time.Duration
	peersSeen     atomic.Int64

	// livePublished is 1 + the next position live publication will
	// publish, while it runs here (0 otherwise); read by the metrics.
	livePublished atomic.Uint64
}

// Spec is the replica as the registry describes it.
func (r *Replica) Spec() Spec { return r.spec }

// Metrics is the store's series (its own, or those shared beyond the limit).
func (r *Replica) Metrics() *metrics.Store { return r.metrics }

// Submit proposes cmd through the store's proposer (group commit) and waits
// for its result or ctx's end. A Timeout error means the outcome is
// unknown: the command may still be applied.
//
// A command that needs a store command version above the active cluster
// version is refused first (version_not_active, nothing written): a
// replica on an older build would not apply it the same way. Appends and
// the other base commands skip the check.
func (r *Replica) Submit(ctx context.Context, cmd sm.Command, size int) (sm.Result, error) {
	if need := sm.OpVersion(cmd.Op); need > 1 && r.storeVersion != nil {
		active, err := r.storeVersion()
		if err != nil {
			return sm.Result{}, codes.New(codes.NotWritten, "cannot read the cluster version: %v", err)
		}
		if need > active {
			return sm.Result{}, codes.New(codes.VersionNotActive, "this operation needs store command version %d; the cluster is at %d until every storenode supports it and the upgrade is finalized", need, active)
		}
	}
	r.wakePeers()
	return r.proposer.submit(ctx, cmd, size)
}

// touch records activity now.
func (r *Replica) touch() { r.active.Store(time.Now().UnixNano()) }

// touchApplied records an apply (or a start): activity the other replicas
// took part in.
func (r *Replica) touchApplied() {
	now := time.Now().UnixNano()
	r.active.Store(now)
	r.peersSeen.Store(now)
}

// Touch records a request served by this replica, a read included: a store
// in use does not go dormant.
func (r *Replica) Touch() { r.touch() }

// Idle returns how long the replica has applied nothing (nor started, nor
// been woken).
func (r *Replica) Idle() time.Duration {
	return time.Duration(time.Now().UnixNano() - r.active.Load())
}

// wakePeers asks the store's other replicas to wake (or to count as
// active: a running one is touched) when a proposal or a read comes and
// neither an apply nor such a request has reached them for announceAfter,
// half the hibernation delay: they may be dormant, and the leader can
// neither commit nor confirm a read without a quorum. A store read but not
// written so keeps its followers awake with one broadcast per half delay.
func (r *Replica) wakePeers() {
	if r.announce == nil {
		return
	}
	now := time.Now().UnixNano()
	prev := r.peersSeen.Load()
	if time.Duration(now-prev) < r.announceAfter || !r.peersSeen.CompareAndSwap(prev, now) {
		return
	}
	r.announce()
}

// Read is a linearizable query of the store: it sees every entry committed
// before the call (see raft.Host.Read).
func (r *Replica) Read(ctx context.Context, q any) (any, error) {
	r.wakePeers()
	return r.raft.Read(ctx, r.spec.ShardID, q)
}

// Follows reports whether another node leads the store, as this replica
// knows it (false while there is no leader, or while this node leads).
func (r *Replica) Follows() bool { return r.raft.Follows(r.spec.ShardID) }

// StaleRead queries this replica's state as applied so far; what is applied
// is committed, so it is exact for what it returns, but may trail the leader.
func (r *Replica) StaleRead(q any) (any, error) { return r.raft.StaleRead(r.spec.ShardID, q) }

// Applied returns a channel closed once the state machine applies its next
// batch. Take it before reading, so that a batch applied during the read
// wakes the next wait.
func (r *Replica) Applied() <-chan struct{} { return r.applied.C() }

// AppliedIndex returns the index of the last Raft entry this replica
// applied (0 before its state machine is open).
func (r *Replica) AppliedIndex() uint64 {
	if m := r.sm.Load(); m != nil {
		return m.Applied()
	}
	return 0
}

// Events returns the number of events the store holds, as applied here.
func (r *Replica) Events() uint64 {
	if m := r.sm.Load(); m != nil {
		return m.Events()
	}
	return 0
}

// Usage returns the store's usage and quota, as applied here.
func (r *Replica) Usage() sm.Usage {
	if m := r.sm.Load(); m != nil {
		return m.Usage()
	}
	return sm.Usage{}
}

// QuotaSet reports whether the store's state machine here ever had its
// quota set (sm.StateMachine.QuotaSet).
func (r *Replica) QuotaSet() bool {
	if m := r.sm.Load(); m != nil {
		return m.QuotaSet()
	}
	return false
}

// DiskBytes returns the disk space of the replica's state machine.
func (r *Replica) DiskBytes() uint64 {
	if m := r.sm.Load(); m != nil {
		return m.DiskBytes()
	}
	return 0
}

// SetLivePublished records the next position live publication will
// publish, while it runs (running false: it stopped).
func (r *Replica) SetLivePublished(next uint64, running bool) {
	if !running {
		r.livePublished.Store(0)
		return
	}
	r.livePublished.Store(next + 1)
}

// LivePublished returns the next position live publication will publish,
// and whether it runs here.
func (r *Replica) LivePublished() (next uint64, running bool) {
	v := r.livePublished.Load()
	if v == 0 {
		return 0, false
	}
	return v - 1, true
}

// Restoring reports whether the store serves only the restore: a restore
// is in progress, as this replica applied it, or the store was created for
// one (Spec.Restore) that has not completed yet. It is the request path's
// gate; the state machine refuses what arrives during a restore in any case.
func (r *Replica) Restoring() bool {
	m := r.sm.Load()
	if m == nil {
		return r.spec.Restore
	}
	return m.Restoring() || (r.spec.Restore && !m.Restored())
}

// Backoff spaces a leader task's retries: 10 ms, doubling up to a second.
// Its zero value is ready to use.
type Backoff struct{ next time.Duration }

// Wait sleeps the next delay; it returns false at once if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) bool {
	d := max(b.next, 10*time.Millisecond)
	b.next = min(2*d, time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Reset starts the delays again from 10 ms, after a success.
func (b *Backoff) Reset() { b.next = 0 }

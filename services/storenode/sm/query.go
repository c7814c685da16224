package sm

import (
	"fmt"

	"github.com/logbookdb/logbook/pkg/codes"
)

// The queries Lookup answers, each with the type of its answer. Lookup's
// switch below is the one list of them. Answers are the state machine's own
// types; the node converts them to the client protocol.
type (
	// ReadStream reads up to Count events of Stream from revision From
	// (absent: its start going forward, its end going backward). Answer:
	// *StreamPage; with Encoded, its events come in StreamPage.Encoded,
	// already in the client protocol's encoding, instead of Events.
	ReadStream struct {
		Stream   string
		From     *uint64
		Backward bool
		Count    int
		Encoded  bool
	}
	// ReadAll reads up to Count events of the store in position order from
	// From (absent: its start going forward, its end going backward) that
	// pass Filter (nil: every event). Answer: *AllPage. With Encoded and no
	// Filter, the page's events come in AllPage.Encoded, already in the
	// client protocol's encoding, instead of Events.
	ReadAll struct {
		From     *uint64
		Backward bool
		Filter   *Filter
		Count    int
		Encoded  bool
	}
	// ListStreams pages through the streams whose name starts with Prefix,
	// after the name After (exclusive). Answer: *StreamList.
	ListStreams struct {
		Prefix, After string
		Limit         int
	}
	// GetStream describes one stream. Answer: *StreamInfo.
	GetStream struct{ Stream string }

	// SnapshotRead reads the stream's snapshot with the highest version, or
	// the highest at or below MaxVersion. Answer: *Snapshot.
	SnapshotRead struct {
		Stream     string
		MaxVersion *uint64
	}
	// SnapshotList lists up to Limit snapshots of the stream with versions
	// above After (all if nil), ascending. Answer: *SnapshotPage.
	SnapshotList struct {
		Stream string
		After  *uint64
		Limit  int
	}

	// PSubGet reads one persistent subscription, or subscription_not_found.
	// Answer: *PSub.
	PSubGet struct{ Name string }
	// PSubList reads every subscription, in name order. Answer: []*PSub.
	PSubList struct{}
	// PSubScan reads the events of $all from From on that pass the filter
	// of Sub: at most Max of them, examining at most MaxScan events and
	// stopping before MaxBytes of payload. The leader's delivery task uses
	// it with a stale (local, committed) read. Answer: *PSubScanResult.
	PSubScan struct {
		Sub      *PSub
		From     uint64
		Max      int
		MaxBytes int
	}
	// PSubParked pages through a subscription's parked events (after After,
	// exclusive, when HasAfter), with the events themselves. Answer:
	// *PSubParkedResult.
	PSubParked struct {
		Name     string
		After    uint64
		HasAfter bool
		Limit    int
		// Skip leaves out parked events at these positions (the leader's
		// replays in progress).
		Skip map[uint64]bool
	}
)

// Lookup answers a query from one consistent view of committed state.
func (s *StateMachine) Lookup(q any) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.opened {
		return nil, codes.New(codes.Unavailable, "store is closed")
	}
	if s.halfRecovered {
		return nil, codes.New(codes.Unavailable, "store replica is recovering from a snapshot")
	}
	if !answersWhileRestoring(q) && s.restoring.Load() {
		return nil, errRestoring()
	}
	if q, ok := q.(BackupOpen); ok { // backup.go: the Backup owns its snapshot
		return s.openBackup(q)
	}
	snap := s.snapshot()
	defer snap.Close()
	v := view{snap: snap, maxReply: s.limits.MaxReplySize}
	switch q := q.(type) {
	case RestoreStatus: // restore.go
		return v.restoreInfo()
	case QuotaStatus: // quota.go
		return v.usage()
	case ReadStream: // stream reads: read.go
		return v.readStream(&q)
	case ReadAll:
		return v.readAll(&q)
	case ListStreams:
		return v.listStreams(&q)
	case GetStream:
		return v.streamInfo(q.Stream)
	case SnapshotRead: // aggregate snapshots: snapshots_read.go
		return v.readSnapshot(&q)
	case SnapshotList:
		return v.listSnapshots(&q)
	case PSubGet: // persistent subscriptions: psub_read.go
		return v.psubGet(q.Name)
	case PSubList:
		return v.psubList()
	case PSubScan:
		return v.psubScan(&q)
	case PSubParked:
		return v.psubParked(&q)
	}
	return nil, fmt.Errorf("sm: unknown query %T", q)
}

// answersWhileRestoring: where a restore stands, and the store's usage,
// are answered during a restore.
func answersWhileRestoring(q any) bool {
	switch q.(type) {
	case RestoreStatus, QuotaStatus:
		return true
	}
	return false
}

// MaxScan bounds how many events one filtered $all read examines; a page may
// then come back short (even empty) with a cursor to continue from.
const MaxScan = 10_000

// view is one consistent, committed state of the store.
type view struct {
	snap     *kvSnap
	maxReply int
}

func (v view) stream(name string) (*streamMeta, error) {
	b, ok, err := get(v.snap, streamKey(name))
	if err != nil || !ok {
		return nil, err
	}
	var m streamMeta
	return &m, decode(b, &m)
}

func (v view) liveStream(name string) (*streamMeta, error) {
	m, err := v.stream(name)
	if err != nil {
		return nil, err
	}
	return m, checkLive(m, name)
}

// checkLive is the outcome for a stream that does not exist (m nil or
// empty) or was deleted; nil for a live one.
func checkLive(m *streamMeta, name string) error {
	if m == nil || m.Count == 0 {
		return codes.New(codes.StreamNotFound, "stream %q does not exist", name)
	}
	if m.Deleted {
		return codes.New(codes.StreamDeleted, "stream %q was deleted", name)
	}
	return nil
}

func (v view) head() (head, error) {
	var h head
	b, ok, err := get(v.snap, keyHead)
	if err != nil || !ok {
		return h, err
	}
	return h, decode(b, &h)
}

package raft

import (
	"sync/atomic"

	"github.com/lni/dragonboat/v4/raftio"
)

// Events counts dragonboat's system events of interest to operators, for
// the metrics (read at scrape time).
type Events struct {
	// ConnectionFailures is how many connections to other hosts' Raft
	// transport failed; SnapshotSendAborts how many snapshot transfers to a
	// follower were aborted; SnapshotsCreated how many snapshots the
	// replicas here took.
	ConnectionFailures, SnapshotSendAborts, SnapshotsCreated uint64
	// SnapshotsSent is how many snapshots were streamed to followers to the
	// end; SnapshotsReceived how many the replicas here received from
	// their leader (a follower too far behind the leader's log).
	SnapshotsSent, SnapshotsReceived uint64
	// ConnectionsRefused is how many connections from other hosts the
	// transport refused: no valid certificate (mutual TLS), or a malformed
	// or oversized frame.
	ConnectionsRefused uint64
}

// Events returns the counts since the host opened.
func (h *Host) Events() Events {
	return Events{
		ConnectionFailures: h.events.connFailed.Load(),
		SnapshotSendAborts: h.events.sendAborted.Load(),
		SnapshotsCreated:   h.events.snapshots.Load(),
		SnapshotsSent:      h.events.sent.Load(),
		SnapshotsReceived:  h.events.received.Load(),
		ConnectionsRefused: h.refusedConnections(),
	}
}

func (h *Host) refusedConnections() uint64 {
	if t := h.transport.Load(); t != nil {
		return t.refused.Load()
	}
	return 0 // on dragonboat's own transport (tests)
}

// systemEvents is dragonboat's ISystemEventListener: it only counts (it is
// called on dragonboat's goroutines and must not block).
type systemEvents struct {
	connFailed, sendAborted, snapshots atomic.Uint64
	sent, received                     atomic.Uint64
}

// Replica lifecycle: the replica set and the registry know it already.
func (e *systemEvents) NodeHostShuttingDown()             {}
func (e *systemEvents) NodeUnloaded(raftio.NodeInfo)      {}
func (e *systemEvents) NodeDeleted(raftio.NodeInfo)       {}
func (e *systemEvents) NodeReady(raftio.NodeInfo)         {}
func (e *systemEvents) MembershipChanged(raftio.NodeInfo) {}

// The transport: failures are counted.
func (e *systemEvents) ConnectionEstablished(raftio.ConnectionInfo) {}
func (e *systemEvents) ConnectionFailed(raftio.ConnectionInfo)      { e.connFailed.Add(1) }

// Snapshots sent to followers: completions and aborts are counted.
func (e *systemEvents) SendSnapshotStarted(raftio.SnapshotInfo)   {}
func (e *systemEvents) SendSnapshotCompleted(raftio.SnapshotInfo) { e.sent.Add(1) }
func (e *systemEvents) SendSnapshotAborted(raftio.SnapshotInfo)   { e.sendAborted.Add(1) }

// Snapshots taken here and received from a leader are counted; the rest
// is routine.
func (e *systemEvents) SnapshotCreated(raftio.SnapshotInfo)   { e.snapshots.Add(1) }
func (e *systemEvents) SnapshotReceived(raftio.SnapshotInfo)  { e.received.Add(1) }
func (e *systemEvents) SnapshotRecovered(raftio.SnapshotInfo) {}
func (e *systemEvents) SnapshotCompacted(raftio.SnapshotInfo) {}
func (e *systemEvents) LogCompacted(raftio.EntryInfo)         {}
func (e *systemEvents) LogDBCompacted(raftio.EntryInfo)       {}

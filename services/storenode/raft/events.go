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

// Snapshots sent to followers: aborts are counted.
func (e *systemEvents) SendSnapshotStarted(raftio.SnapshotInfo)   {}
func (e *systemEvents) SendSnapshotCompleted(raftio.SnapshotInfo) {}
func (e *systemEvents) SendSnapshotAborted(raftio.SnapshotInfo)   { e.sendAborted.Add(1) }

// Snapshots taken here are counted; the rest is routine.
func (e *systemEvents) SnapshotCreated(raftio.SnapshotInfo)   { e.snapshots.Add(1) }
func (e *systemEvents) SnapshotReceived(raftio.SnapshotInfo)  {}
func (e *systemEvents) SnapshotRecovered(raftio.SnapshotInfo) {}
func (e *systemEvents) SnapshotCompacted(raftio.SnapshotInfo) {}
func (e *systemEvents) LogCompacted(raftio.EntryInfo)         {}
func (e *systemEvents) LogDBCompacted(raftio.EntryInfo)       {}

package wire

// Aggregate snapshots: a stream's folded state at one of its revisions,
// saved by the client so that loading an aggregate reads the latest snapshot
// and only the events after it. Replicated like events, through the store's
// Raft group. The contract is schemas/snapshots.md.

// Bounds of the snapshot operations.
const (
	DefaultSnapshotListLimit = 100  // snapshots per snapshot_list page when limit is absent
	MaxSnapshotListLimit     = 1000 // the largest snapshot_list limit
)

// SaveSnapshotRequest records a snapshot of a stream at a version (the
// stream revision whose state it holds). Subject: store.<store>.snapshot_save
type SaveSnapshotRequest struct {
	Stream string `msgpack:"stream"`
	// Version is required: 0 to the stream's last revision.
	Version             *int64 `msgpack:"version"`
	Type                string `msgpack:"type"`
	Data                []byte `msgpack:"data,omitempty"`
	DataContentType     string `msgpack:"data_content_type,omitempty"`
	Metadata            []byte `msgpack:"metadata,omitempty"`
	MetadataContentType string `msgpack:"metadata_content_type,omitempty"`
	// KeepLast, when present, prunes the stream's snapshots after saving
	// to the keep_last highest versions. Absent: keep every snapshot.
	KeepLast *int64 `msgpack:"keep_last,omitempty"`
}

// SaveSnapshotReply confirms a saved snapshot.
type SaveSnapshotReply struct {
	Stream  string `msgpack:"stream"`
	Version uint64 `msgpack:"version"`
	// Created is the commit time of the save (Unix ns); for a duplicate, that
	// of the original save.
	Created int64 `msgpack:"created"`
	// Duplicate is true when an identical snapshot of this version was
	// already stored: nothing was written.
	Duplicate bool `msgpack:"duplicate,omitempty"`
	// Pruned is how many older snapshots keep_last removed.
	Pruned uint64 `msgpack:"pruned,omitempty"`
}

// ReadSnapshotRequest reads a stream's latest snapshot, or its latest at or
// below max_version. Subject: store.<store>.snapshot_read
type ReadSnapshotRequest struct {
	Stream     string `msgpack:"stream"`
	MaxVersion *int64 `msgpack:"max_version,omitempty"`
}

// Snapshot is a stored snapshot: the reply of snapshot_read.
type Snapshot struct {
	Stream              string `msgpack:"stream"`
	Version             uint64 `msgpack:"version"`
	Type                string `msgpack:"type"`
	Data                []byte `msgpack:"data"`
	DataContentType     string `msgpack:"data_content_type"`
	Metadata            []byte `msgpack:"metadata"`
	MetadataContentType string `msgpack:"metadata_content_type"`
	Created             int64  `msgpack:"created"`
}

// ListSnapshotsRequest pages through a stream's snapshots in version order.
// Subject: store.<store>.snapshot_list
type ListSnapshotsRequest struct {
	Stream string `msgpack:"stream"`
	// After is an exclusive cursor: the next of the previous page.
	After *int64 `msgpack:"after,omitempty"`
	Limit *int64 `msgpack:"limit,omitempty"`
}

// SnapshotInfo describes one snapshot without its content.
type SnapshotInfo struct {
	Version      uint64 `msgpack:"version"`
	Type         string `msgpack:"type"`
	DataSize     uint64 `msgpack:"data_size"`
	MetadataSize uint64 `msgpack:"metadata_size"`
	Created      int64  `msgpack:"created"`
}

// ListSnapshotsReply is one page of snapshots. Next is absent on the last page.
type ListSnapshotsReply struct {
	Stream    string         `msgpack:"stream"`
	Snapshots []SnapshotInfo `msgpack:"snapshots"`
	Next      *uint64        `msgpack:"next,omitempty"`
}

// DeleteSnapshotRequest deletes one snapshot of a stream (version present)
// or all of them (version absent). Subject: store.<store>.snapshot_delete
type DeleteSnapshotRequest struct {
	Stream  string `msgpack:"stream"`
	Version *int64 `msgpack:"version,omitempty"`
}

// DeleteSnapshotReply says how many snapshots were deleted.
type DeleteSnapshotReply struct {
	Stream  string `msgpack:"stream"`
	Deleted uint64 `msgpack:"deleted"`
}

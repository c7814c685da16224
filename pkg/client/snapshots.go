package client

import (
	"context"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Aggregate snapshots: see schemas/snapshots.md. To load an aggregate, read
// its latest snapshot (ReadSnapshot), then the stream's events from the
// snapshot's Version+1.

// Reply types of the snapshot operations.
type (
	Snapshot         = wire.Snapshot
	SnapshotInfo     = wire.SnapshotInfo
	SnapshotList     = wire.ListSnapshotsReply
	SnapshotSaved    = wire.SaveSnapshotReply
	SnapshotsDeleted = wire.DeleteSnapshotReply
)

// Errors of the snapshot operations, for errors.Is.
var (
	ErrSnapshotNotFound     = codes.ErrSnapshotNotFound
	ErrSnapshotConflict     = codes.ErrSnapshotConflict
	ErrSnapshotVersionAhead = codes.ErrSnapshotVersionAhead
)

// NewSnapshot is a snapshot to save.
type NewSnapshot struct {
	// Version is the stream revision whose state the snapshot holds: at most
	// the stream's last revision.
	Version             uint64
	Type                string
	Data                []byte
	DataContentType     string
	Metadata            []byte
	MetadataContentType string
	// KeepLast, if not 0, keeps only the stream's KeepLast highest versions
	// once this one is saved.
	KeepLast int
}

// SaveSnapshot saves a snapshot of stream. Saving the same version again
// with the same content succeeds with Duplicate set (so a retry is safe);
// with other content it fails with ErrSnapshotConflict.
func (s *Store) SaveSnapshot(ctx context.Context, stream string, snap NewSnapshot) (*SnapshotSaved, error) {
	v := int64(snap.Version)
	req := wire.SaveSnapshotRequest{
		Stream: stream, Version: &v, Type: snap.Type,
		Data: snap.Data, DataContentType: snap.DataContentType,
		Metadata: snap.Metadata, MetadataContentType: snap.MetadataContentType,
		KeepLast: count(snap.KeepLast),
	}
	var out SnapshotSaved
	return &out, s.request(ctx, subjects.OpSnapshotSave, &req, &out)
}

// ReadSnapshotOptions select which snapshot ReadSnapshot returns.
type ReadSnapshotOptions struct {
	// MaxVersion, if set, returns the latest snapshot at or below it;
	// nil returns the latest.
	MaxVersion *uint64
}

// ReadSnapshot reads the latest snapshot of stream (at or below
// o.MaxVersion if set). No such snapshot: ErrSnapshotNotFound.
func (s *Store) ReadSnapshot(ctx context.Context, stream string, o ReadSnapshotOptions) (*Snapshot, error) {
	req := wire.ReadSnapshotRequest{Stream: stream, MaxVersion: i64p(o.MaxVersion)}
	var out Snapshot
	return &out, s.request(ctx, subjects.OpSnapshotRead, &req, &out)
}

// ListSnapshotsOptions select a page of a stream's snapshots.
type ListSnapshotsOptions struct {
	After *uint64 // the Next of the previous page; nil: from the first
	Limit int     // 0: the server's default (100)
}

// ListSnapshots lists a stream's snapshots (without their content) in
// version order.
func (s *Store) ListSnapshots(ctx context.Context, stream string, o ListSnapshotsOptions) (*SnapshotList, error) {
	req := wire.ListSnapshotsRequest{Stream: stream, After: i64p(o.After), Limit: count(o.Limit)}
	var out SnapshotList
	return &out, s.request(ctx, subjects.OpSnapshotList, &req, &out)
}

// DeleteSnapshot deletes the snapshot of stream at version; none there:
// ErrSnapshotNotFound (also when a retry finds it deleted by the first
// attempt).
func (s *Store) DeleteSnapshot(ctx context.Context, stream string, version uint64) (*SnapshotsDeleted, error) {
	v := int64(version)
	var out SnapshotsDeleted
	return &out, s.request(ctx, subjects.OpSnapshotDelete, &wire.DeleteSnapshotRequest{Stream: stream, Version: &v}, &out)
}

// DeleteSnapshots deletes every snapshot of stream.
func (s *Store) DeleteSnapshots(ctx context.Context, stream string) (*SnapshotsDeleted, error) {
	var out SnapshotsDeleted
	return &out, s.request(ctx, subjects.OpSnapshotDelete, &wire.DeleteSnapshotRequest{Stream: stream}, &out)
}

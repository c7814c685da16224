package storeops

// Aggregate snapshot operations (schemas/snapshots.md). Writes are proposed
// through the store's proposer like appends, so they are ordered with the
// stream's events in the Raft log; reads are linearizable like stream reads.
// The rules (stream must exist, version at most its last revision, same
// version twice) are checked in the replicated apply, sm/snapshots.go.

import (
	"context"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

var (
	readSnapshot = query(wire.DecodeReadSnapshot, func(req *wire.ReadSnapshotRequest) any {
		return sm.SnapshotRead{Stream: req.Stream, MaxVersion: toU64(req.MaxVersion)}
	}, snapshotReply)
	listSnapshots = query(paged(wire.DecodeListSnapshots), func(p page[*wire.ListSnapshotsRequest]) any {
		return sm.SnapshotList{Stream: p.req.Stream, After: toU64(p.req.After), Limit: p.n}
	}, listSnapshotsReply)
)

func saveSnapshot(_ *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeSaveSnapshot(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	snap := &sm.SnapshotSave{
		Version: uint64(*req.Version), Type: req.Type,
		Data: req.Data, DataContentType: req.DataContentType,
		Metadata: req.Metadata, MetadataContentType: req.MetadataContentType,
	}
	if req.KeepLast != nil {
		snap.KeepLast = uint64(*req.KeepLast)
	}
	out, err := propose[sm.SnapshotSaveResult](ctx, s, sm.SnapshotSaveCommand(req.Stream, snap), len(data))
	if err != nil {
		return nil, err
	}
	return &wire.SaveSnapshotReply{
		Stream: req.Stream, Version: out.Version, Created: out.Created,
		Duplicate: out.Duplicate, Pruned: out.Pruned,
	}, nil
}

func deleteSnapshot(_ *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeDeleteSnapshot(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	out, err := propose[sm.SnapshotDeleteResult](ctx, s, sm.SnapshotDeleteCommand(req.Stream, toU64(req.Version)), len(data))
	if err != nil {
		return nil, err
	}
	return &wire.DeleteSnapshotReply{Stream: req.Stream, Deleted: out.Deleted}, nil
}

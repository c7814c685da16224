package storeops

import (
	"context"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Aggregate snapshot operations (schemas/snapshots.md). Writes are proposed
// through the store's proposer like appends, so they are ordered with the
// stream's events in the Raft log; reads are linearizable like stream reads.
// The rules (stream must exist, version at most its last revision, same
// version twice) are checked in the replicated apply, sm/snapshots.go.

func (o *Ops) saveSnapshot(ctx context.Context, s Store, data []byte) (any, error) {
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
	res, err := s.Submit(ctx, sm.SnapshotSaveCommand(req.Stream, snap), len(data))
	if err != nil {
		return nil, err
	}
	out, err := sm.ResultAs[sm.SnapshotSaveResult](res)
	if err != nil {
		return nil, err
	}
	return &wire.SaveSnapshotReply{
		Stream: req.Stream, Version: out.Version, Created: out.Created,
		Duplicate: out.Duplicate, Pruned: out.Pruned,
	}, nil
}

func (o *Ops) readSnapshot(ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeReadSnapshot(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	v, err := s.Read(ctx, sm.SnapshotRead{Stream: req.Stream, MaxVersion: toU64(req.MaxVersion)})
	return toWire(v, err, snapshotReply)
}

func (o *Ops) listSnapshots(ctx context.Context, s Store, data []byte) (any, error) {
	req, limit, err := wire.DecodeListSnapshots(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	v, err := s.Read(ctx, sm.SnapshotList{Stream: req.Stream, After: toU64(req.After), Limit: limit})
	return toWire(v, err, listSnapshotsReply)
}

func (o *Ops) deleteSnapshot(ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeDeleteSnapshot(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	res, err := s.Submit(ctx, sm.SnapshotDeleteCommand(req.Stream, toU64(req.Version)), len(data))
	if err != nil {
		return nil, err
	}
	out, err := sm.ResultAs[sm.SnapshotDeleteResult](res)
	if err != nil {
		return nil, err
	}
	return &wire.DeleteSnapshotReply{Stream: req.Stream, Deleted: out.Deleted}, nil
}

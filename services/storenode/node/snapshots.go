package node

import (
	"context"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Aggregate snapshot operations (schemas/snapshots.md). Writes are proposed
// through the store's proposer like appends, so they are ordered with the
// stream's events in the Raft log; reads are linearizable like stream reads.
// The rules (stream must exist, version at most its last revision, same
// version twice) are checked in the replicated apply, sm/snapshots.go.

func init() {
	extHandlers[subjects.OpSnapshotSave] = (*Node).saveSnapshot
	extHandlers[subjects.OpSnapshotRead] = (*Node).readSnapshot
	extHandlers[subjects.OpSnapshotList] = (*Node).listSnapshots
	extHandlers[subjects.OpSnapshotDelete] = (*Node).deleteSnapshot
}

func (n *Node) saveSnapshot(ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeSaveSnapshot(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	s := &sm.SnapshotSave{
		Version: uint64(*req.Version), Type: req.Type,
		Data: req.Data, DataContentType: req.DataContentType,
		Metadata: req.Metadata, MetadataContentType: req.MetadataContentType,
	}
	if req.KeepLast != nil {
		s.KeepLast = uint64(*req.KeepLast)
	}
	res, err := r.proposer.submit(ctx, sm.SnapshotSaveCommand(req.Stream, s), len(data))
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

func (n *Node) readSnapshot(ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeReadSnapshot(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	v, err := n.read(ctx, r.spec.ShardID, sm.SnapshotRead{Stream: req.Stream, MaxVersion: toU64(req.MaxVersion)})
	return toWire(v, err, snapshotReply)
}

func (n *Node) listSnapshots(ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, limit, err := wire.DecodeListSnapshots(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	v, err := n.read(ctx, r.spec.ShardID, sm.SnapshotList{Stream: req.Stream, After: toU64(req.After), Limit: limit})
	return toWire(v, err, listSnapshotsReply)
}

func (n *Node) deleteSnapshot(ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeDeleteSnapshot(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	res, err := r.proposer.submit(ctx, sm.SnapshotDeleteCommand(req.Stream, toU64(req.Version)), len(data))
	if err != nil {
		return nil, err
	}
	out, err := sm.ResultAs[sm.SnapshotDeleteResult](res)
	if err != nil {
		return nil, err
	}
	return &wire.DeleteSnapshotReply{Stream: req.Stream, Deleted: out.Deleted}, nil
}

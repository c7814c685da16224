package storeops

// Stream operations: appends and deletes are proposed through the store's
// proposer (group commit); reads are linearizable.

import (
	"context"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

func (o *Ops) appendEvents(ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeAppend(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	cmd := sm.Command{Op: sm.OpAppend, Stream: req.Stream, Events: make([]sm.EventCmd, len(req.Events))}
	cmd.Expect, cmd.Revision = expectOf(req.ExpectedState, req.ExpectedRevision)
	generated := false
	for i, ev := range req.Events {
		id := uuid.New()
		if ev.ID != "" {
			id = uuid.MustParse(ev.ID) // validated by DecodeAppend
		} else {
			generated = true
		}
		cmd.Events[i] = sm.EventCmd{
			ID: id, Type: ev.Type, Data: ev.Data, DataContentType: ev.DataContentType,
			Metadata: ev.Metadata, MetadataContentType: ev.MetadataContentType,
		}
	}
	res, err := s.Submit(ctx, cmd, len(data))
	if err != nil {
		return nil, err
	}
	out, err := sm.ResultAs[sm.AppendResult](res)
	if err != nil {
		return nil, err
	}
	reply := &wire.AppendReply{
		FirstRevision: out.FirstRevision, LastRevision: out.LastRevision,
		FirstPosition: out.FirstPosition, LastPosition: out.LastPosition,
		Timestamp: out.Timestamp, Duplicate: out.Duplicate,
	}
	if generated {
		for _, ev := range cmd.Events {
			reply.EventIDs = append(reply.EventIDs, uuid.UUID(ev.ID).String())
		}
	}
	return reply, nil
}

func (o *Ops) deleteStream(ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeDeleteStream(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	cmd := sm.Command{Op: sm.OpDelete, Stream: req.Stream}
	cmd.Expect, cmd.Revision = expectOf(req.ExpectedState, req.ExpectedRevision)
	res, err := s.Submit(ctx, cmd, len(data))
	if err != nil {
		return nil, err
	}
	out, err := sm.ResultAs[sm.DeleteResult](res)
	if err != nil {
		return nil, err
	}
	return &wire.DeleteStreamReply{Stream: req.Stream, LastRevision: out.LastRevision, Timestamp: out.Timestamp}, nil
}

func (o *Ops) read(ctx context.Context, s Store, data []byte) (any, error) {
	req, count, err := wire.DecodeRead(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	q := sm.ReadStream{Stream: req.Stream, From: toU64(req.FromRevision), Backward: req.Direction == wire.Backward, Count: count}
	v, err := s.Read(ctx, q)
	return toWire(v, err, readReply)
}

func (o *Ops) readAll(ctx context.Context, s Store, data []byte) (any, error) {
	req, count, err := wire.DecodeReadAll(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	q := sm.ReadAll{From: toU64(req.FromPosition), Backward: req.Direction == wire.Backward, Filter: filterOf(req.Filter), Count: count}
	v, err := s.Read(ctx, q)
	return toWire(v, err, readAllReply)
}

func (o *Ops) listStreams(ctx context.Context, s Store, data []byte) (any, error) {
	req, limit, err := wire.DecodeListStreams(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	v, err := s.Read(ctx, sm.ListStreams{Prefix: req.Prefix, After: req.After, Limit: limit})
	return toWire(v, err, listStreamsReply)
}

func (o *Ops) streamInfo(ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeStreamInfo(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	v, err := s.Read(ctx, sm.GetStream{Stream: req.Stream})
	return toWire(v, err, streamInfoReply)
}

func expectOf(state string, rev *int64) (uint8, uint64) {
	switch state {
	case wire.ExpectNoStream:
		return sm.ExpectNoStream, 0
	case wire.ExpectStreamExists:
		return sm.ExpectStreamExists, 0
	case wire.ExpectExact:
		return sm.ExpectExact, uint64(*rev)
	}
	return sm.ExpectAny, 0
}

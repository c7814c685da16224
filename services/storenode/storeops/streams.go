package storeops

// Stream operations: appends and deletes are proposed through the store's
// proposer (group commit); reads are linearizable.

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

var (
	readStream = query(paged(wire.DecodeRead), func(p page[*wire.ReadRequest]) any {
		return sm.ReadStream{Stream: p.req.Stream, From: toU64(p.req.FromRevision), Backward: p.req.Direction == wire.Backward, Count: p.n, Encoded: true}
	}, readReply)
	readAll = query(paged(wire.DecodeReadAll), func(p page[*wire.ReadAllRequest]) any {
		return sm.ReadAll{From: toU64(p.req.FromPosition), Backward: p.req.Direction == wire.Backward, Filter: filterOf(p.req.Filter), Count: p.n, Encoded: true}
	}, readAllReply)
	listStreams = query(paged(wire.DecodeListStreams), func(p page[*wire.ListStreamsRequest]) any {
		return sm.ListStreams{Prefix: p.req.Prefix, After: p.req.After, Limit: p.n}
	}, listStreamsReply)
	streamInfo = query(wire.DecodeStreamInfo, func(req *wire.StreamInfoRequest) any {
		return sm.GetStream{Stream: req.Stream}
	}, streamInfoReply)
)

func appendEvents(_ *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeAppend(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	if s.Spec().HasQuota && !s.QuotaSet() {
		// A new store with a quota: its leader sets the quota in the state
		// machine before the store is reported running; until then an
		// append could pass it. Nothing was done: the gateway sends it again.
		return nil, codes.New(codes.NotWritten, "the store's quota is not in force yet")
	}
	cmd := sm.Command{Op: sm.OpAppend, Stream: req.Stream, Events: make([]sm.EventCmd, len(req.Events))}
	cmd.Expect, cmd.Revision = expectOf(req.ExpectedState, req.ExpectedRevision)
	generated := false
	for i, ev := range req.Events {
		var id uuid.UUID
		if ev.ID != "" {
			id = uuid.MustParse(ev.ID) // validated by DecodeAppend
		} else {
			id, generated = newEventID(ctx, i), true
		}
		cmd.Events[i] = sm.EventCmd{
			ID: id, Type: ev.Type, Data: ev.Data, DataContentType: ev.DataContentType,
			Metadata: ev.Metadata, MetadataContentType: ev.MetadataContentType,
		}
	}
	start := time.Now()
	out, err := propose[sm.AppendResult](ctx, s, cmd, len(data))
	m := s.Metrics()
	m.AppendSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	m.Appends.Inc()
	if !out.Duplicate {
		m.Events.Add(float64(len(cmd.Events)))
		m.Bytes.Add(float64(len(data)))
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

func deleteStream(_ *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeDeleteStream(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	cmd := sm.Command{Op: sm.OpDelete, Stream: req.Stream}
	cmd.Expect, cmd.Revision = expectOf(req.ExpectedState, req.ExpectedRevision)
	out, err := propose[sm.DeleteResult](ctx, s, cmd, len(data))
	if err != nil {
		return nil, err
	}
	return &wire.DeleteStreamReply{Stream: req.Stream, LastRevision: out.LastRevision, Timestamp: out.Timestamp}, nil
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

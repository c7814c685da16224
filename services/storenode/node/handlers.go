package node

import (
	"context"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// subscribeLeader serves the store's internal leader subjects. The queue
// group keeps a request from being served twice while leadership moves.
func (n *Node) subscribeLeader(r *storeReplica) (*nats.Subscription, error) {
	return n.cfg.NATS.QueueSubscribe(proto.LeaderWildcard(r.spec.ID), proto.LeaderQueue, func(m *nats.Msg) {
		_, op, ok := proto.ParseLeader(m.Subject)
		if !ok {
			serve.Respond(m, nil, codes.New(codes.UnknownOperation, "bad subject %q", wire.Truncate(m.Subject)))
			return
		}
		n.srv.Dispatch(m, r.spec.Timeout, func(ctx context.Context, m *nats.Msg) (any, error) {
			return n.handle(ctx, r, op, m.Data)
		})
	})
}

func (n *Node) handle(ctx context.Context, r *storeReplica, op string, data []byte) (any, error) {
	l := r.spec.Limits
	shard := r.spec.ShardID
	switch op {
	case subjects.OpAppend:
		req, err := wire.DecodeAppend(data, l)
		if err != nil {
			return nil, err
		}
		return n.appendEvents(ctx, r, req, len(data))
	case subjects.OpDeleteStream:
		req, err := wire.DecodeDeleteStream(data, l)
		if err != nil {
			return nil, err
		}
		cmd := sm.Command{Op: sm.OpDelete, Stream: req.Stream}
		cmd.Expect, cmd.Revision = expectOf(req.ExpectedState, req.ExpectedRevision)
		res, err := r.proposer.submit(ctx, cmd, len(data))
		if err != nil {
			return nil, err
		}
		out, err := sm.ResultAs[sm.DeleteResult](res)
		if err != nil {
			return nil, err
		}
		return &wire.DeleteStreamReply{Stream: req.Stream, LastRevision: out.LastRevision, Timestamp: out.Timestamp}, nil
	case subjects.OpRead:
		req, count, err := wire.DecodeRead(data, l)
		if err != nil {
			return nil, err
		}
		q := sm.ReadStream{Stream: req.Stream, From: toU64(req.FromRevision), Backward: req.Direction == wire.Backward, Count: count}
		v, err := n.read(ctx, shard, q)
		return toWire(v, err, readReply)
	case subjects.OpReadAll:
		req, count, err := wire.DecodeReadAll(data, l)
		if err != nil {
			return nil, err
		}
		q := sm.ReadAll{From: toU64(req.FromPosition), Backward: req.Direction == wire.Backward, Filter: filterOf(req.Filter), Count: count}
		v, err := n.read(ctx, shard, q)
		return toWire(v, err, readAllReply)
	case subjects.OpListStreams:
		req, limit, err := wire.DecodeListStreams(data, l)
		if err != nil {
			return nil, err
		}
		v, err := n.read(ctx, shard, sm.ListStreams{Prefix: req.Prefix, After: req.After, Limit: limit})
		return toWire(v, err, listStreamsReply)
	case subjects.OpStreamInfo:
		req, err := wire.DecodeStreamInfo(data, l)
		if err != nil {
			return nil, err
		}
		v, err := n.read(ctx, shard, sm.GetStream{Stream: req.Stream})
		return toWire(v, err, streamInfoReply)
	}
	if h, ok := extHandlers[op]; ok {
		return h(n, ctx, r, data)
	}
	return nil, codes.New(codes.UnknownOperation, "unknown operation %q", op)
}

// read is linearizable: dragonboat confirms leadership with a read index
// before the state machine answers, so a read sees every append acknowledged
// before it started.
func (n *Node) read(ctx context.Context, shard uint64, q any) (any, error) {
	v, err := n.host.Read(ctx, shard, q)
	if err != nil {
		return nil, raftError(err)
	}
	return v, nil
}

func (n *Node) appendEvents(ctx context.Context, r *storeReplica, req *wire.AppendRequest, size int) (any, error) {
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
	res, err := r.proposer.submit(ctx, cmd, size)
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

// extHandler serves a store operation registered from its own file
// (snapshots, subscriptions) on the store's leader.
type extHandler func(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error)

// extHandlers maps operations to their handlers; filled by init functions.
var extHandlers = map[string]extHandler{}

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

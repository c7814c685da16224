package storeops

// Persistent subscription operations (store.<store>.psub_*). Definitions,
// checkpoints and parked events are replicated (sm/psub.go); joins, acks and
// replays go to the store's delivery (package delivery), which also adds
// its live state to the infos. See schemas/persistent-subscriptions.md.

import (
	"context"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// psubPropose proposes a subscription command and returns its result.
func (o *Ops) psubPropose(ctx context.Context, s Store, op uint8, name string, aux any) (sm.Result, error) {
	var b []byte
	if aux != nil {
		var err error
		if b, err = sm.EncodeAux(aux); err != nil {
			return sm.Result{}, codes.New(codes.Internal, "%v", err)
		}
	}
	res, err := s.Submit(ctx, sm.Command{Op: op, Stream: name, Aux: b}, len(b)+len(name))
	if err != nil {
		return res, err
	}
	if err := res.Err(); err != nil {
		return res, err
	}
	o.delivery.DefinitionsChanged(s.Spec().ID)
	return res, nil
}

func psubCreate(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeCreateSubscription(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	set := wire.ResolveSettings(req.Settings, nil)
	def := sm.PSub{
		Name: req.Subscription, StartKind: req.Start,
		MaxInFlight: *set.MaxInFlight, AckTimeoutMs: *set.AckTimeoutMs, MaxRetries: *set.MaxRetries, Strategy: set.Strategy,
	}
	if f := req.Filter; f != nil {
		def.Stream, def.StreamPrefix, def.Category, def.EventTypes = f.Stream, f.StreamPrefix, f.Category, f.EventTypes
	}
	if req.StartPosition != nil {
		def.StartPosition = uint64(*req.StartPosition)
	}
	res, err := o.psubPropose(ctx, s, sm.OpPSubCreate, req.Subscription, &sm.PSubCreate{Def: def, MaxSubs: wire.MaxSubscriptions})
	if err != nil {
		return nil, err
	}
	created, err := sm.ResultAs[sm.PSubCreateResult](res)
	if err != nil {
		return nil, err
	}
	info, err := o.subscriptionInfo(ctx, s, req.Subscription)
	if err != nil {
		return nil, err
	}
	info.Existed = created.Duplicate
	return info, nil
}

func psubUpdate(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeUpdateSubscription(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	cmd := sm.PSubUpdate{Name: req.Subscription, MaxInFlight: -1, AckTimeoutMs: -1, MaxRetries: -1}
	if set := req.Settings; set != nil {
		if set.MaxInFlight != nil {
			cmd.MaxInFlight = *set.MaxInFlight
		}
		if set.AckTimeoutMs != nil {
			cmd.AckTimeoutMs = *set.AckTimeoutMs
		}
		if set.MaxRetries != nil {
			cmd.MaxRetries = *set.MaxRetries
		}
		cmd.Strategy = set.Strategy
	}
	if _, err := o.psubPropose(ctx, s, sm.OpPSubUpdate, req.Subscription, &cmd); err != nil {
		return nil, err
	}
	return o.subscriptionInfo(ctx, s, req.Subscription)
}

func psubDelete(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeSubscriptionRequest(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	if _, err := o.psubPropose(ctx, s, sm.OpPSubDelete, req.Subscription, nil); err != nil {
		return nil, err
	}
	return &wire.DeleteSubscriptionReply{Subscription: req.Subscription}, nil
}

// subscriptionInfo is the replicated state, read linearizably, plus the
// live delivery state of this leader.
func (o *Ops) subscriptionInfo(ctx context.Context, s Store, name string) (*wire.SubscriptionInfo, error) {
	p, err := raft.As[*sm.PSub](s.Read(ctx, sm.PSubGet{Name: name}))
	if err != nil {
		return nil, err
	}
	info := psubInfoOf(p)
	o.delivery.Live(s.Spec().ID, info, p.Gen)
	return info, nil
}

func psubInfo(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeSubscriptionRequest(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	return o.subscriptionInfo(ctx, s, req.Subscription)
}

func psubList(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	if _, err := wire.DecodeListSubscriptions(data, s.Spec().Limits); err != nil {
		return nil, err
	}
	list, err := raft.As[[]*sm.PSub](s.Read(ctx, sm.PSubList{}))
	if err != nil {
		return nil, err
	}
	reply := &wire.ListSubscriptionsReply{Subscriptions: []wire.SubscriptionInfo{}}
	for _, p := range list {
		info := psubInfoOf(p)
		o.delivery.Live(s.Spec().ID, info, p.Gen)
		reply.Subscriptions = append(reply.Subscriptions, *info)
	}
	return reply, nil
}

var psubParked = query(paged(wire.DecodeParked), func(p page[*wire.ParkedRequest]) any {
	q := sm.PSubParked{Name: p.req.Subscription, Limit: p.n}
	if p.req.After != nil {
		q.After, q.HasAfter = uint64(*p.req.After), true
	}
	return q
}, parkedReply)

func psubJoin(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, heartbeat, err := wire.DecodeJoin(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	return o.delivery.Join(ctx, s.Spec().ID, req, heartbeat)
}

func psubAck(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, delay, err := wire.DecodeAck(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	return o.delivery.Ack(ctx, s.Spec().ID, req, delay)
}

func psubReplay(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, count, err := wire.DecodeReplay(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	return o.delivery.Replay(ctx, s.Spec().ID, req.Subscription, count)
}

package node

// Request handlers of persistent subscriptions (store.<store>.psub_*), run
// on the store's leader. Definitions, checkpoints and parked events are
// replicated (sm/psub.go); joins, acks and replays go to the delivery
// manager of psub_leader.go. See schemas/persistent-subscriptions.md.

import (
	"context"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

func init() {
	extHandlers[subjects.OpPSubCreate] = psubCreate
	extHandlers[subjects.OpPSubUpdate] = psubUpdate
	extHandlers[subjects.OpPSubDelete] = psubDelete
	extHandlers[subjects.OpPSubList] = psubList
	extHandlers[subjects.OpPSubInfo] = psubInfoHandler
	extHandlers[subjects.OpPSubJoin] = psubJoin
	extHandlers[subjects.OpPSubAck] = psubAck
	extHandlers[subjects.OpPSubParked] = psubParked
	extHandlers[subjects.OpPSubReplay] = psubReplay
}

// psubPropose proposes a subscription command and returns its result.
func psubPropose(ctx context.Context, r *storeReplica, op uint8, name string, aux any) (sm.Result, error) {
	var b []byte
	if aux != nil {
		var err error
		if b, err = sm.EncodeAux(aux); err != nil {
			return sm.Result{}, codes.New(codes.Internal, "%v", err)
		}
	}
	res, err := r.proposer.submit(ctx, sm.Command{Op: op, Stream: name, Aux: b}, len(b)+len(name))
	if err != nil {
		return res, err
	}
	if err := res.Err(); err != nil {
		return res, err
	}
	if m := managerOf(r); m != nil {
		m.definitionsChanged()
	}
	return res, nil
}

func psubCreate(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeCreateSubscription(data, r.spec.Limits)
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
	res, err := psubPropose(ctx, r, sm.OpPSubCreate, req.Subscription, &sm.PSubCreate{Def: def, MaxSubs: wire.MaxSubscriptions})
	if err != nil {
		return nil, err
	}
	created, err := sm.ResultAs[sm.PSubCreateResult](res)
	if err != nil {
		return nil, err
	}
	info, err := psubInfo(n, ctx, r, req.Subscription)
	if err != nil {
		return nil, err
	}
	info.Existed = created.Duplicate
	return info, nil
}

func psubUpdate(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeUpdateSubscription(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	cmd := sm.PSubUpdate{Name: req.Subscription, MaxInFlight: -1, AckTimeoutMs: -1, MaxRetries: -1}
	if s := req.Settings; s != nil {
		if s.MaxInFlight != nil {
			cmd.MaxInFlight = *s.MaxInFlight
		}
		if s.AckTimeoutMs != nil {
			cmd.AckTimeoutMs = *s.AckTimeoutMs
		}
		if s.MaxRetries != nil {
			cmd.MaxRetries = *s.MaxRetries
		}
		cmd.Strategy = s.Strategy
	}
	if _, err := psubPropose(ctx, r, sm.OpPSubUpdate, req.Subscription, &cmd); err != nil {
		return nil, err
	}
	return psubInfo(n, ctx, r, req.Subscription)
}

func psubDelete(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeSubscriptionRequest(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	if _, err := psubPropose(ctx, r, sm.OpPSubDelete, req.Subscription, nil); err != nil {
		return nil, err
	}
	return &wire.DeleteSubscriptionReply{Subscription: req.Subscription}, nil
}

// psubInfo is the replicated state, read linearizably, plus the live
// delivery state of this leader.
func psubInfo(n *Node, ctx context.Context, r *storeReplica, name string) (*wire.SubscriptionInfo, error) {
	v, err := n.read(ctx, r.spec.ShardID, sm.PSubGet{Name: name})
	if err != nil {
		return nil, err
	}
	p := v.(*sm.PSub)
	info := psubInfoOf(p)
	if m := managerOf(r); m != nil {
		m.live(info, p.Gen)
	}
	return info, nil
}

func psubInfoHandler(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, err := wire.DecodeSubscriptionRequest(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	return psubInfo(n, ctx, r, req.Subscription)
}

func psubList(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	if _, err := wire.DecodeListSubscriptions(data, r.spec.Limits); err != nil {
		return nil, err
	}
	v, err := n.read(ctx, r.spec.ShardID, sm.PSubList{})
	if err != nil {
		return nil, err
	}
	m := managerOf(r)
	reply := &wire.ListSubscriptionsReply{Subscriptions: []wire.SubscriptionInfo{}}
	for _, p := range v.([]*sm.PSub) {
		info := psubInfoOf(p)
		if m != nil {
			m.live(info, p.Gen)
		}
		reply.Subscriptions = append(reply.Subscriptions, *info)
	}
	return reply, nil
}

func psubParked(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, limit, err := wire.DecodeParked(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	q := sm.PSubParked{Name: req.Subscription, Limit: limit}
	if req.After != nil {
		q.After, q.HasAfter = uint64(*req.After), true
	}
	v, err := n.read(ctx, r.spec.ShardID, q)
	return toWire(v, err, parkedReply)
}

// delivering returns the store's delivery manager, or unavailable while it
// starts (just after a leader change); clients retry unavailable.
func delivering(r *storeReplica) (*psubManager, error) {
	m := managerOf(r)
	if m == nil {
		return nil, codes.New(codes.Unavailable, "persistent subscription delivery is starting on store %q", r.spec.ID)
	}
	return m, nil
}

func psubJoin(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, heartbeat, err := wire.DecodeJoin(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	m, err := delivering(r)
	if err != nil {
		return nil, err
	}
	return m.join(ctx, req, heartbeat)
}

func psubAck(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, delay, err := wire.DecodeAck(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	m, err := delivering(r)
	if err != nil {
		return nil, err
	}
	return m.ack(ctx, req, delay)
}

func psubReplay(n *Node, ctx context.Context, r *storeReplica, data []byte) (any, error) {
	req, count, err := wire.DecodeReplay(data, r.spec.Limits)
	if err != nil {
		return nil, err
	}
	m, err := delivering(r)
	if err != nil {
		return nil, err
	}
	return m.replay(ctx, req.Subscription, count)
}

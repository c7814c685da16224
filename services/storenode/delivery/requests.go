package delivery

// Requests from consumers, served by the store's manager.

import (
	"context"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/psub"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

func (m *manager) join(ctx context.Context, req *wire.JoinRequest, heartbeat int64) (*wire.JoinReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	joined, err := m.core.Join(req.Subscription, req.Consumer, req.Deliver, time.Duration(heartbeat)*time.Millisecond)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.poke()
	return &wire.JoinReply{HeartbeatMs: heartbeat, Joined: joined}, nil
}

func (m *manager) ack(ctx context.Context, req *wire.AckRequest, delay int64) (*wire.AckReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	reply, err := m.core.Ack(req.Subscription, req.Consumer, req.Positions, req.Action, time.Duration(delay)*time.Millisecond)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.poke()
	return reply, nil
}

// replay queues up to count parked events for delivery again.
func (m *manager) replay(ctx context.Context, name string, count int) (*wire.ReplayReply, error) {
	if err := m.sub(ctx, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	q, err := m.core.StartReplay(name)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	res, err := raft.As[*sm.PSubParkedResult](m.s.Read(ctx, sm.PSubParked{Name: name, Limit: count, Skip: q.Skip}))
	if err != nil {
		return nil, err
	}
	parked := make([]psub.Parked, len(res.Entries))
	for i, pe := range res.Entries {
		parked[i] = psub.Parked{Event: wire.RecordedEvent(pe.Event), DeliveryCount: pe.Park.DeliveryCount}
	}
	m.mu.Lock()
	n, err := m.core.Replay(q, parked)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.poke()
	return &wire.ReplayReply{Replaying: n}, nil
}

// live fills in an info's delivery state, when this node delivers.
func (m *manager) live(info *wire.SubscriptionInfo, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.core.Info(info.Subscription, gen, info)
}

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Persistent subscriptions: named subscriptions kept by the server, with a
// replicated checkpoint, delivering events to competing consumers. See
// schemas/persistent-subscriptions.md.

// Types of persistent subscriptions, named for the client's users.
type (
	SubscriptionFilter   = wire.SubscriptionFilter
	SubscriptionSettings = wire.SubscriptionSettings
	SubscriptionInfo     = wire.SubscriptionInfo
	ParkedPage           = wire.ParkedReply
	ParkedEvent          = wire.ParkedEvent
)

// Sentinels of persistent subscriptions, for errors.Is.
var (
	ErrSubscriptionNotFound      = codes.ErrSubscriptionNotFound
	ErrSubscriptionAlreadyExists = codes.ErrSubscriptionAlreadyExists
	ErrInvalidFilter             = codes.ErrInvalidFilter
	ErrEventNotInFlight          = codes.ErrEventNotInFlight
	ErrEventAlreadyAcked         = codes.ErrEventAlreadyAcked
	ErrConsumerNotFound          = codes.ErrConsumerNotFound
)

// Consumer strategies, re-exported.
const (
	RoundRobin = wire.StrategyRoundRobin
	Pinned     = wire.StrategyPinned
)

// SubscriptionOptions define a new subscription. The zero value delivers
// every event of the store from position 0, with the default settings.
type SubscriptionOptions struct {
	Filter *SubscriptionFilter
	// FromEnd starts at the store's next position when the subscription is
	// created; FromPosition at a given position. Neither: position 0.
	FromEnd      bool
	FromPosition *uint64
	Settings     *SubscriptionSettings
}

// CreateSubscription creates a persistent subscription. Creating it again
// with the same definition succeeds with Existed set.
func (s *Store) CreateSubscription(ctx context.Context, name string, o SubscriptionOptions) (*SubscriptionInfo, error) {
	req := wire.CreateSubscriptionRequest{Subscription: name, Filter: o.Filter, Settings: o.Settings}
	switch {
	case o.FromEnd:
		req.Start = wire.StartAtEnd
	case o.FromPosition != nil:
		p := int64(*o.FromPosition)
		req.Start, req.StartPosition = wire.StartAtPosition, &p
	}
	var out SubscriptionInfo
	return &out, s.request(ctx, subjects.OpPSubCreate, &req, &out)
}

// UpdateSubscription changes the settings given (nil fields keep their value).
func (s *Store) UpdateSubscription(ctx context.Context, name string, settings SubscriptionSettings) (*SubscriptionInfo, error) {
	var out SubscriptionInfo
	return &out, s.request(ctx, subjects.OpPSubUpdate, &wire.UpdateSubscriptionRequest{Subscription: name, Settings: &settings}, &out)
}

// DeleteSubscription deletes a subscription, its checkpoint and its parked events.
func (s *Store) DeleteSubscription(ctx context.Context, name string) error {
	var out wire.DeleteSubscriptionReply
	return s.request(ctx, subjects.OpPSubDelete, &wire.SubscriptionRequest{Subscription: name}, &out)
}

// ListSubscriptions lists the store's subscriptions in name order.
func (s *Store) ListSubscriptions(ctx context.Context) ([]SubscriptionInfo, error) {
	var out wire.ListSubscriptionsReply
	if err := s.request(ctx, subjects.OpPSubList, &wire.ListSubscriptionsRequest{}, &out); err != nil {
		return nil, err
	}
	return out.Subscriptions, nil
}

// SubscriptionInfo describes one subscription: definition, checkpoint,
// parked count, and its consumers and events in flight.
func (s *Store) SubscriptionInfo(ctx context.Context, name string) (*SubscriptionInfo, error) {
	var out SubscriptionInfo
	return &out, s.request(ctx, subjects.OpPSubInfo, &wire.SubscriptionRequest{Subscription: name}, &out)
}

// ParkedEvents returns a page of parked events after position after
// (exclusive; nil for the first page), at most limit (0: 100).
func (s *Store) ParkedEvents(ctx context.Context, name string, after *uint64, limit int) (*ParkedPage, error) {
	req := wire.ParkedRequest{Subscription: name}
	if after != nil {
		a := int64(*after)
		req.After = &a
	}
	if limit > 0 {
		l := int64(limit)
		req.Limit = &l
	}
	var out ParkedPage
	return &out, s.request(ctx, subjects.OpPSubParked, &req, &out)
}

// ReplayParked delivers up to max (0: 1000) parked events again; each
// leaves the park once acked or skipped. It returns how many were queued.
func (s *Store) ReplayParked(ctx context.Context, name string, max int) (uint64, error) {
	req := wire.ReplayRequest{Subscription: name}
	if max > 0 {
		m := int64(max)
		req.MaxCount = &m
	}
	var out wire.ReplayReply
	err := s.request(ctx, subjects.OpPSubReplay, &req, &out)
	return out.Replaying, err
}

// NackAction says what to do with an event that was not processed.
type NackAction string

// Nack actions.
const (
	Retry      NackAction = wire.ActionRetry      // deliver again now
	RetryLater NackAction = wire.ActionRetryLater // deliver again after a delay
	Park       NackAction = wire.ActionPark       // park it (see ParkedEvents, ReplayParked)
	Skip       NackAction = wire.ActionSkip       // drop it: it counts as processed
)

// Message is one delivery of a persistent subscription.
type Message struct {
	Event RecordedEvent
	// DeliveryCount is 1 on the first delivery; Redelivered is true when
	// the event may have been delivered before (after a nack, an ack
	// timeout or a leader change). Replay is true for a replayed parked event.
	DeliveryCount uint64
	Redelivered   bool
	Replay        bool

	c *consumer
}

// Ack settles the event: it will not be delivered again. It fails with
// event_not_in_flight when the event is no longer this consumer's (its ack
// timeout passed, or the store's leader changed): it will be delivered
// again. An ack retried after a timeout may answer event_already_acked:
// the first attempt settled it. Acks made at the same time (from several
// goroutines) while Consume runs travel together in one request; each
// still returns its own event's outcome (acks.go).
func (m *Message) Ack(ctx context.Context) error { return m.c.settle(ctx, m, wire.ActionAck, 0) }

// Nack hands the event back: retry it (now, or after delay with
// RetryLater), park it or skip it. Retries count against max_retries; an
// event out of retries is parked.
func (m *Message) Nack(ctx context.Context, action NackAction, delay time.Duration) error {
	return m.c.settle(ctx, m, string(action), delay)
}

// Handler processes one message. Messages are handed to it one at a time,
// in the order they arrive (with the pinned strategy, a stream's events
// arrive in order). A message neither acked nor nacked is delivered again
// after the ack timeout.
type Handler func(ctx context.Context, m *Message)

// ConsumeOptions tune a consumer.
type ConsumeOptions struct {
	// Consumer is this consumer's name (1–64 of [A-Za-z0-9_.-]); default a
	// random one. A restarted consumer may take its old name back.
	Consumer string
	// Heartbeat is how often the consumer re-joins; the server drops it
	// after three missed heartbeats. Default 1s; 50ms..60s.
	Heartbeat time.Duration
}

type consumer struct {
	s    *Store
	sub  string
	id   string
	acks *acker // batches plain acks while Consume runs (acks.go)
}

func (c *consumer) settle(ctx context.Context, m *Message, action string, delay time.Duration) error {
	pos := int64(m.Event.Position)
	if action == wire.ActionAck && c.acks != nil {
		if queued, err := c.acks.ack(ctx, pos); queued {
			return err
		}
	}
	return c.request(ctx, []int64{pos}, action, delay.Milliseconds(), nil)
}

// Consume joins the subscription as a consumer and calls handler for each
// message until ctx is cancelled (then it returns nil), the first join
// fails, or three heartbeats in a row fail with a final error such as
// subscription_not_found (then it returns the error). The
// consumer re-joins every heartbeat; after a leader change it is joined to
// the new leader on its next heartbeat, and the events it held are
// delivered again (marked redelivered).
func (s *Store) Consume(ctx context.Context, name string, handler Handler, o ConsumeOptions) error {
	if o.Consumer == "" {
		o.Consumer = "c-" + nats.NewInbox()[len(nats.InboxPrefix):]
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = time.Duration(wire.DefaultHeartbeatMs) * time.Millisecond
	}
	c := &consumer{s: s, sub: name, id: o.Consumer}
	c.acks = startAcker(c)
	defer c.acks.close()       // after the handlers' last message; later acks go alone
	inbox := s.c.nc.NewInbox() // the connection's prefix: a tenant may subscribe to its own only
	msgs := make(chan *nats.Msg, 8192)
	nsub, err := s.c.nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		return fmt.Errorf("logbook: consume: %w", err)
	}
	defer nsub.Unsubscribe()
	// The server must know the inbox before the leader publishes to it.
	if err := s.c.nc.FlushTimeout(s.c.opts.timeout); err != nil {
		return fmt.Errorf("logbook: consume: %w", err)
	}
	hb := o.Heartbeat.Milliseconds()
	join := func() error {
		jctx, cancel := context.WithTimeout(ctx, max(3*o.Heartbeat, 2*time.Second))
		defer cancel()
		var out wire.JoinReply
		return s.request(jctx, subjects.OpPSubJoin, &wire.JoinRequest{Subscription: name, Consumer: c.id, Deliver: inbox, HeartbeatMs: &hb}, &out)
	}
	if err := join(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	fatal := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		failures := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := join()
			if ctx.Err() != nil {
				return
			}
			// A retryable error (a leader change, a restart, a timeout) is
			// retried at the next heartbeat. A final one (the subscription or
			// the store is gone) ends the consumer once three heartbeats in a
			// row got it: a store's registry may briefly not know it while a
			// cluster restarts.
			var e *codes.Error
			if err == nil || !errors.As(err, &e) || e.Code.Retryable() {
				failures = 0
				continue
			}
			if failures++; failures == 3 {
				fatal <- err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-fatal:
			return err
		case nm := <-msgs:
			d, err := wire.DecodeDelivery(nm.Data)
			if err != nil || d.Subscription != name {
				continue // not a delivery of this subscription
			}
			handler(ctx, &Message{Event: d.Event, DeliveryCount: d.DeliveryCount, Redelivered: d.Redelivered, Replay: d.Replay, c: c})
		}
	}
}

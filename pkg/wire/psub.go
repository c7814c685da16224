package wire

// Persistent subscriptions: named, server-side subscriptions of a store with
// a replicated checkpoint, delivering events to competing consumers. See
// schemas/persistent-subscriptions.md for the protocol.

// Consumer strategies.
const (
	StrategyRoundRobin = "round_robin" // each event to the next consumer with room (the default)
	StrategyPinned     = "pinned"      // all of a stream's events to one consumer, in order
)

// Where a new subscription starts.
const (
	StartAtStart    = "start"    // position 0 (the default)
	StartAtEnd      = "end"      // the store's next position when the subscription is created
	StartAtPosition = "position" // start_position
)

// Ack actions (the action of a psub_ack request).
const (
	ActionAck        = "ack"         // done (the default)
	ActionRetry      = "retry"       // deliver again now (counts as a retry)
	ActionRetryLater = "retry_later" // deliver again after delay_ms (counts as a retry)
	ActionPark       = "park"        // park at once
	ActionSkip       = "skip"        // done without processing
)

// Reasons an event was parked.
const (
	ParkedByNack       = "nack"        // a consumer nacked it with action park
	ParkedByMaxRetries = "max_retries" // it was delivered max_retries+1 times without an ack
)

// Bounds of persistent subscription requests.
const (
	MaxSubscriptionNameLen = 64
	MaxDeliverSubjectLen   = 256
	MaxAckPositions        = 1000
	MaxSubscriptions       = 100 // per store

	DefaultMaxInFlight  = 10
	MaxMaxInFlight      = 10_000
	DefaultAckTimeoutMs = 30_000
	MinAckTimeoutMs     = 10
	MaxAckTimeoutMs     = 3_600_000
	DefaultMaxRetries   = 10
	MaxMaxRetries       = 1000
	DefaultHeartbeatMs  = 1000
	MinHeartbeatMs      = 50
	MaxHeartbeatMs      = 60_000
	DefaultRetryDelayMs = 1000
	MaxRetryDelayMs     = 3_600_000
	DefaultReplayCount  = 1000
	MaxReplayCount      = 10_000
)

// SubscriptionFilter selects the events a subscription delivers. Fields
// combine with AND, like the filter of read_all; an absent or empty filter
// selects every event. Stream names one stream and cannot be combined with
// stream_prefix or category.
type SubscriptionFilter struct {
	Stream       string   `msgpack:"stream,omitempty"`
	StreamPrefix string   `msgpack:"stream_prefix,omitempty"`
	Category     string   `msgpack:"category,omitempty"`
	EventTypes   []string `msgpack:"event_types,omitempty"`
}

// SubscriptionSettings tunes delivery. In a request every field is optional
// (absent: the default on create, unchanged on update); in a reply every
// field is present.
type SubscriptionSettings struct {
	MaxInFlight  *int64 `msgpack:"max_in_flight,omitempty"`  // unacked events per consumer, 1..10000 (10)
	AckTimeoutMs *int64 `msgpack:"ack_timeout_ms,omitempty"` // 10..3600000 (30000)
	MaxRetries   *int64 `msgpack:"max_retries,omitempty"`    // 0..1000 (10)
	Strategy     string `msgpack:"strategy,omitempty"`       // round_robin (default) or pinned
}

// CreateSubscriptionRequest creates a persistent subscription.
// Subject: store.<store>.psub_create
type CreateSubscriptionRequest struct {
	Subscription  string                `msgpack:"subscription"`
	Filter        *SubscriptionFilter   `msgpack:"filter,omitempty"`
	Start         string                `msgpack:"start,omitempty"`          // start (default), end or position
	StartPosition *int64                `msgpack:"start_position,omitempty"` // only with start position
	Settings      *SubscriptionSettings `msgpack:"settings,omitempty"`
}

// UpdateSubscriptionRequest changes a subscription's settings; absent
// settings keep their value. The filter and start never change.
// Subject: store.<store>.psub_update
type UpdateSubscriptionRequest struct {
	Subscription string                `msgpack:"subscription"`
	Settings     *SubscriptionSettings `msgpack:"settings,omitempty"`
}

// SubscriptionRequest names one subscription (psub_delete, psub_info).
type SubscriptionRequest struct {
	Subscription string `msgpack:"subscription"`
}

// ListSubscriptionsRequest lists every subscription of the store (at most
// MaxSubscriptions). Subject: store.<store>.psub_list
type ListSubscriptionsRequest struct{}

// ConsumerInfo describes one consumer joined to a subscription.
type ConsumerInfo struct {
	Consumer string `msgpack:"consumer"`
	InFlight uint64 `msgpack:"in_flight"`
}

// SubscriptionInfo describes a subscription: its definition, its replicated
// state (checkpoint, parked count) and, from the store's leader, its live
// delivery state.
type SubscriptionInfo struct {
	Subscription  string               `msgpack:"subscription"`
	Filter        SubscriptionFilter   `msgpack:"filter"`
	StartPosition uint64               `msgpack:"start_position"`
	Settings      SubscriptionSettings `msgpack:"settings"`
	Created       int64                `msgpack:"created"`
	Updated       int64                `msgpack:"updated"`
	// Checkpoint is the replicated position below which every matching event
	// was acked, skipped or parked.
	Checkpoint  uint64         `msgpack:"checkpoint"`
	ParkedCount uint64         `msgpack:"parked_count"`
	InFlight    uint64         `msgpack:"in_flight"` // delivered, not yet acked
	Waiting     uint64         `msgpack:"waiting"`   // read and waiting for a consumer (or a retry delay)
	Consumers   []ConsumerInfo `msgpack:"consumers"`
	// Existed is set in a psub_create reply when the subscription already
	// existed with the same definition.
	Existed bool `msgpack:"existed,omitempty"`
}

// ListSubscriptionsReply lists subscriptions in name order.
type ListSubscriptionsReply struct {
	Subscriptions []SubscriptionInfo `msgpack:"subscriptions"`
}

// DeleteSubscriptionReply confirms a deletion.
type DeleteSubscriptionReply struct {
	Subscription string `msgpack:"subscription"`
}

// JoinRequest joins a consumer to a subscription, and is repeated every
// heartbeat_ms to stay joined. Deliveries go to deliver, a subject under
// _INBOX. that the consumer subscribes to. Subject: store.<store>.psub_join
type JoinRequest struct {
	Subscription string `msgpack:"subscription"`
	Consumer     string `msgpack:"consumer"`
	Deliver      string `msgpack:"deliver"`
	HeartbeatMs  *int64 `msgpack:"heartbeat_ms,omitempty"` // 50..60000 (1000)
}

// JoinReply confirms a join or heartbeat.
type JoinReply struct {
	HeartbeatMs int64 `msgpack:"heartbeat_ms"`
	// Joined is true when this request added the consumer (first join, or
	// after a leader change or an expiry); false for a heartbeat.
	Joined bool `msgpack:"joined,omitempty"`
}

// AckRequest settles delivered events: ack (the default), or a nack with
// action retry, retry_later, park or skip. Subject: store.<store>.psub_ack
type AckRequest struct {
	Subscription string  `msgpack:"subscription"`
	Consumer     string  `msgpack:"consumer"`
	Positions    []int64 `msgpack:"positions"`
	Action       string  `msgpack:"action,omitempty"`
	DelayMs      *int64  `msgpack:"delay_ms,omitempty"` // only with retry_later: 0..3600000 (1000)
}

// AckReply reports which positions were settled.
type AckReply struct {
	Done uint64 `msgpack:"done"`
	// NotInFlight lists the positions that were not in flight to this
	// consumer (never delivered to it, already settled, or timed out and
	// handed to another consumer); they were left alone.
	NotInFlight []uint64 `msgpack:"not_in_flight,omitempty"`
}

// Delivery is what the leader publishes to a consumer's deliver subject.
type Delivery struct {
	Subscription string        `msgpack:"subscription"`
	Event        RecordedEvent `msgpack:"event"`
	// DeliveryCount is 1 on the first delivery. An event that may have been
	// delivered before a leader change counts that as one delivery.
	DeliveryCount uint64 `msgpack:"delivery_count"`
	// Redelivered is true whenever the event may have been delivered before
	// (DeliveryCount > 1).
	Redelivered bool `msgpack:"redelivered,omitempty"`
	// Replay is true for a parked event delivered again by psub_replay.
	Replay bool `msgpack:"replay,omitempty"`
}

// ParkedRequest pages through a subscription's parked events in position
// order. Subject: store.<store>.psub_parked
type ParkedRequest struct {
	Subscription string `msgpack:"subscription"`
	After        *int64 `msgpack:"after,omitempty"` // exclusive cursor: the last position of the previous page
	Limit        *int64 `msgpack:"limit,omitempty"` // 1..1000 (100)
}

// ParkedEvent is one parked event.
type ParkedEvent struct {
	Event         RecordedEvent `msgpack:"event"`
	Reason        string        `msgpack:"reason"` // nack or max_retries
	DeliveryCount uint64        `msgpack:"delivery_count"`
	Parked        int64         `msgpack:"parked"` // when it was parked (commit time, ns)
}

// ParkedReply is one page of parked events.
type ParkedReply struct {
	Events []ParkedEvent `msgpack:"events"`
	More   bool          `msgpack:"more,omitempty"` // continue with after = the last event's position
}

// ReplayRequest delivers parked events again; each leaves the park once a
// consumer acks or skips it. Subject: store.<store>.psub_replay
type ReplayRequest struct {
	Subscription string `msgpack:"subscription"`
	MaxCount     *int64 `msgpack:"max_count,omitempty"` // 1..10000 (1000)
}

// ReplayReply says how many parked events were queued for delivery.
type ReplayReply struct {
	Replaying uint64 `msgpack:"replaying"`
}

// ResolveSettings returns s with every absent field set from base (the
// current settings on update) or, when base is nil, from the defaults.
func ResolveSettings(s *SubscriptionSettings, base *SubscriptionSettings) SubscriptionSettings {
	i := func(v int64) *int64 { return &v }
	out := SubscriptionSettings{MaxInFlight: i(DefaultMaxInFlight), AckTimeoutMs: i(DefaultAckTimeoutMs),
		MaxRetries: i(DefaultMaxRetries), Strategy: StrategyRoundRobin}
	if base != nil {
		out = *base
	}
	if s == nil {
		return out
	}
	if s.MaxInFlight != nil {
		out.MaxInFlight = i(*s.MaxInFlight)
	}
	if s.AckTimeoutMs != nil {
		out.AckTimeoutMs = i(*s.AckTimeoutMs)
	}
	if s.MaxRetries != nil {
		out.MaxRetries = i(*s.MaxRetries)
	}
	if s.Strategy != "" {
		out.Strategy = s.Strategy
	}
	return out
}

// DecodeDelivery decodes a Delivery as a consumer receives it. Unknown keys
// are ignored, as in every reply.
func DecodeDelivery(data []byte) (*Delivery, error) {
	var d Delivery
	if err := UnmarshalReply(data, &d); err != nil {
		return nil, err
	}
	if d.Subscription == "" || d.DeliveryCount == 0 {
		return nil, invalid("delivery without subscription or delivery_count")
	}
	return &d, nil
}

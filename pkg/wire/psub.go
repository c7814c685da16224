package wire

import (
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
)

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

// ValidateSubscriptionName checks a subscription or consumer name: 1–64
// bytes of [A-Za-z0-9_.-], starting with a letter or digit.
func ValidateSubscriptionName(what, name string) error {
	if name == "" {
		return codes.New(codes.InvalidSubscriptionName, "%s name is empty", what)
	}
	if len(name) > MaxSubscriptionNameLen {
		return codes.New(codes.InvalidSubscriptionName, "%s name is %d bytes, more than %d", what, len(name), MaxSubscriptionNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			(i > 0 && (c == '_' || c == '-' || c == '.'))
		if !ok {
			return codes.New(codes.InvalidSubscriptionName, "%s name %q: only A-Z, a-z, 0-9, '_', '-' and '.' are allowed, starting with a letter or digit", what, Truncate(name))
		}
	}
	return nil
}

// ValidateSubscriptionFilter checks a filter; errors are invalid_filter.
func ValidateSubscriptionFilter(f *SubscriptionFilter) error {
	if f == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return codes.New(codes.InvalidFilter, "filter: "+format, args...)
	}
	if f.Stream != "" {
		if err := ValidateStream(f.Stream); err != nil {
			return bad("stream: %s", codes.As(err).Message)
		}
		if f.StreamPrefix != "" || f.Category != "" {
			return bad("stream names one stream; it cannot be combined with stream_prefix or category")
		}
	}
	if len(f.StreamPrefix) > MaxStreamLen || checkText(f.StreamPrefix) != "" {
		return bad("stream_prefix must be UTF-8 text without control characters, up to %d bytes", MaxStreamLen)
	}
	if len(f.Category) > MaxStreamLen || checkText(f.Category) != "" || strings.Contains(f.Category, "-") {
		return bad("category must be UTF-8 text without control characters or '-', up to %d bytes", MaxStreamLen)
	}
	if len(f.EventTypes) > 100 {
		return bad("event_types has %d entries, more than 100", len(f.EventTypes))
	}
	for _, t := range f.EventTypes {
		if err := ValidateEventType(t); err != nil {
			return bad("event_types: %s", codes.As(err).Message)
		}
	}
	return nil
}

// validateSettings checks the settings given in a request (absent fields are fine).
func validateSettings(s *SubscriptionSettings) error {
	if s == nil {
		return nil
	}
	check := func(field string, v *int64, lo, hi int64) error {
		if v != nil && (*v < lo || *v > hi) {
			return invalid("settings.%s %d is out of range %d..%d", field, *v, lo, hi)
		}
		return nil
	}
	if err := check("max_in_flight", s.MaxInFlight, 1, MaxMaxInFlight); err != nil {
		return err
	}
	if err := check("ack_timeout_ms", s.AckTimeoutMs, MinAckTimeoutMs, MaxAckTimeoutMs); err != nil {
		return err
	}
	if err := check("max_retries", s.MaxRetries, 0, MaxMaxRetries); err != nil {
		return err
	}
	if s.Strategy != "" && s.Strategy != StrategyRoundRobin && s.Strategy != StrategyPinned { // "": absent, see orDefault
		return invalid("settings.strategy %q is not round_robin or pinned", Truncate(s.Strategy))
	}
	return nil
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

// DecodeCreateSubscription decodes and validates a psub_create request; an
// absent start becomes start, or position when start_position is given.
func DecodeCreateSubscription(data []byte, l Limits) (*CreateSubscriptionRequest, error) {
	var req CreateSubscriptionRequest
	if err := decodeStrict(data, l, &req, "start", "strategy"); err != nil {
		return nil, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, err
	}
	if err := ValidateSubscriptionFilter(req.Filter); err != nil {
		return nil, err
	}
	if req.StartPosition != nil {
		orDefault(&req.Start, StartAtPosition)
	}
	orDefault(&req.Start, StartAtStart)
	switch req.Start {
	case StartAtStart, StartAtEnd:
		if req.StartPosition != nil {
			return nil, invalid("start_position goes only with start %q", StartAtPosition)
		}
	case StartAtPosition:
		if req.StartPosition == nil {
			return nil, invalid("start %q needs start_position", StartAtPosition)
		}
	default:
		return nil, invalid("start %q is not one of start, end, position", Truncate(req.Start))
	}
	if err := validateFrom("start_position", req.StartPosition); err != nil {
		return nil, err
	}
	if err := validateSettings(req.Settings); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeUpdateSubscription decodes and validates a psub_update request.
func DecodeUpdateSubscription(data []byte, l Limits) (*UpdateSubscriptionRequest, error) {
	var req UpdateSubscriptionRequest
	if err := decodeStrict(data, l, &req, "strategy"); err != nil {
		return nil, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, err
	}
	if err := validateSettings(req.Settings); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeSubscriptionRequest decodes a request naming one subscription
// (psub_delete, psub_info).
func DecodeSubscriptionRequest(data []byte, l Limits) (*SubscriptionRequest, error) {
	var req SubscriptionRequest
	if err := decodeStrict(data, l, &req); err != nil {
		return nil, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeListSubscriptions decodes a psub_list request (the empty map).
func DecodeListSubscriptions(data []byte, l Limits) (*ListSubscriptionsRequest, error) {
	var req ListSubscriptionsRequest
	if err := decodeStrict(data, l, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// ValidateDeliverSubject checks a consumer's deliver subject: a literal
// subject (no wildcards, no empty tokens, no white space) under _INBOX.
func ValidateDeliverSubject(s string) error {
	if len(s) > MaxDeliverSubjectLen {
		return invalid("deliver is %d bytes, more than %d", len(s), MaxDeliverSubjectLen)
	}
	rest, ok := strings.CutPrefix(s, "_INBOX.")
	if !ok || rest == "" {
		return invalid("deliver %q must be a subject under _INBOX.", Truncate(s))
	}
	for _, tok := range strings.Split(rest, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") || checkText(tok) != "" {
			return invalid("deliver %q is not a literal NATS subject", Truncate(s))
		}
	}
	return nil
}

// DecodeJoin decodes and validates a psub_join request; heartbeat is the
// effective heartbeat interval in milliseconds.
func DecodeJoin(data []byte, l Limits) (req *JoinRequest, heartbeat int64, err error) {
	req = new(JoinRequest)
	if err := decodeStrict(data, l, req); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("consumer", req.Consumer); err != nil {
		return nil, 0, err
	}
	if err := ValidateDeliverSubject(req.Deliver); err != nil {
		return nil, 0, err
	}
	heartbeat = DefaultHeartbeatMs
	if req.HeartbeatMs != nil {
		if *req.HeartbeatMs < MinHeartbeatMs || *req.HeartbeatMs > MaxHeartbeatMs {
			return nil, 0, invalid("heartbeat_ms %d is out of range %d..%d", *req.HeartbeatMs, MinHeartbeatMs, MaxHeartbeatMs)
		}
		heartbeat = *req.HeartbeatMs
	}
	return req, heartbeat, nil
}

// DecodeAck decodes and validates a psub_ack request: an absent action
// becomes ack, and delay is the effective retry delay (ms).
func DecodeAck(data []byte, l Limits) (req *AckRequest, delay int64, err error) {
	req = new(AckRequest)
	if err := decodeStrict(data, l, req, "action"); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("consumer", req.Consumer); err != nil {
		return nil, 0, err
	}
	if len(req.Positions) == 0 || len(req.Positions) > MaxAckPositions {
		return nil, 0, invalid("positions has %d entries; 1..%d are allowed", len(req.Positions), MaxAckPositions)
	}
	for _, p := range req.Positions {
		if p < 0 || p > maxRevision {
			return nil, 0, invalid("position %d is out of range", p)
		}
	}
	orDefault(&req.Action, ActionAck)
	switch req.Action {
	case ActionAck, ActionRetry, ActionRetryLater, ActionPark, ActionSkip:
	default:
		return nil, 0, invalid("action %q is not one of ack, retry, retry_later, park, skip", Truncate(req.Action))
	}
	if req.DelayMs != nil {
		if req.Action != ActionRetryLater {
			return nil, 0, invalid("delay_ms goes only with action %q", ActionRetryLater)
		}
		if *req.DelayMs < 0 || *req.DelayMs > MaxRetryDelayMs {
			return nil, 0, invalid("delay_ms %d is out of range 0..%d", *req.DelayMs, MaxRetryDelayMs)
		}
		delay = *req.DelayMs
	} else if req.Action == ActionRetryLater {
		delay = DefaultRetryDelayMs
	}
	return req, delay, nil
}

// DecodeParked decodes and validates a psub_parked request; limit is the page size.
func DecodeParked(data []byte, l Limits) (req *ParkedRequest, limit int, err error) {
	req = new(ParkedRequest)
	if err := decodeStrict(data, l, req); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, 0, err
	}
	if err := validateFrom("after", req.After); err != nil {
		return nil, 0, err
	}
	if limit, err = validateCount("limit", req.Limit, DefaultListLimit, MaxListLimit); err != nil {
		return nil, 0, err
	}
	return req, limit, nil
}

// DecodeReplay decodes and validates a psub_replay request; count is the
// effective maximum number of events replayed.
func DecodeReplay(data []byte, l Limits) (req *ReplayRequest, count int, err error) {
	req = new(ReplayRequest)
	if err := decodeStrict(data, l, req); err != nil {
		return nil, 0, err
	}
	if err := ValidateSubscriptionName("subscription", req.Subscription); err != nil {
		return nil, 0, err
	}
	if count, err = validateCount("max_count", req.MaxCount, DefaultReplayCount, MaxReplayCount); err != nil {
		return nil, 0, err
	}
	return req, count, nil
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

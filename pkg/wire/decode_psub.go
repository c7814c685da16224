package wire

import (
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
)

// Decoders of the persistent subscription operations, and the checks of
// their fields. Like the others they decode strictly and return either a
// valid request or a *codes.Error.

// ValidateSubscriptionName checks a subscription or consumer name: 1–64
// bytes of [A-Za-z0-9_.-], starting with a letter or digit.
func ValidateSubscriptionName(what, name string) error {
	return checkToken(codes.InvalidSubscriptionName, what+" name", name, MaxSubscriptionNameLen, func(i int, c byte) bool {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			(i > 0 && (c == '_' || c == '-' || c == '.'))
	}, "only A-Z, a-z, 0-9, '_', '-' and '.' are allowed, starting with a letter or digit")
}

// ValidateSubscriptionFilter checks a filter; errors are invalid_filter.
func ValidateSubscriptionFilter(f *SubscriptionFilter) error {
	if f == nil {
		return nil
	}
	var stream error
	if f.Stream != "" {
		stream = within(ValidateStream(f.Stream), "stream")
		if stream == nil && (f.StreamPrefix != "" || f.Category != "") {
			stream = invalid("stream names one stream; it cannot be combined with stream_prefix or category")
		}
	}
	var category error
	if strings.Contains(f.Category, "-") {
		category = invalid("category never contains '-'")
	}
	err := first(stream, validateText("stream_prefix", f.StreamPrefix, MaxStreamLen),
		validateText("category", f.Category, MaxStreamLen), category, validateEventTypes("event_types", f.EventTypes))
	if err != nil {
		return codes.New(codes.InvalidFilter, "filter: %s", codes.As(err).Message)
	}
	return nil
}

// validateSettings checks the settings given in a request (absent fields are
// fine: the defaults on create, unchanged on update).
func validateSettings(s *SubscriptionSettings) error {
	if s == nil {
		return nil
	}
	var strategy error
	if s.Strategy != "" { // absent; a present "" was refused
		strategy = validateOneOf("settings.strategy", &s.Strategy, "", StrategyRoundRobin, StrategyPinned)
	}
	return first(validateRange("settings.max_in_flight", s.MaxInFlight, 1, MaxMaxInFlight),
		validateRange("settings.ack_timeout_ms", s.AckTimeoutMs, MinAckTimeoutMs, MaxAckTimeoutMs),
		validateRange("settings.max_retries", s.MaxRetries, 0, MaxMaxRetries), strategy)
}

// ValidateDeliverSubject checks a consumer's deliver subject: a literal
// subject (no wildcards, no empty tokens, no white space) under _INBOX. or
// a private inbox prefix _INBOX_<name>.
func ValidateDeliverSubject(s string) error {
	if len(s) > MaxDeliverSubjectLen {
		return invalid("deliver is %d bytes, more than %d", len(s), MaxDeliverSubjectLen)
	}
	first, rest, ok := strings.Cut(s, ".")
	if !ok || rest == "" || !isInboxPrefix(first) {
		return invalid("deliver %q must be a subject under _INBOX. (or a private inbox prefix _INBOX_<name>.)", Truncate(s))
	}
	for _, tok := range strings.Split(rest, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") || checkText(tok) != "" {
			return invalid("deliver %q is not a literal NATS subject", Truncate(s))
		}
	}
	return nil
}

// IsInboxSubject reports whether s is a literal subject under an inbox
// prefix (_INBOX. or _INBOX_<name>.): the only subjects Logbook answers
// or delivers to on a client's behalf. The gateway answers a request only
// when its reply subject is one: NATS checks a client's permissions against
// the subject it publishes to, never against its reply subject, so a reply
// subject elsewhere would make the gateway publish there for the client
// (to another store's internal subjects, say).
func IsInboxSubject(s string) bool {
	first, rest, ok := strings.Cut(s, ".")
	if !ok || rest == "" || len(s) > MaxDeliverSubjectLen || !isInboxPrefix(first) {
		return false
	}
	for _, tok := range strings.Split(rest, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

// isInboxPrefix reports whether tok is the first token of an inbox: _INBOX,
// or a private prefix _INBOX_<name> that a tenant's NATS user is allowed to
// subscribe to (docs/security.md). Deliveries never go anywhere else: not
// to Logbook's internal subjects, not to another client's requests.
func isInboxPrefix(tok string) bool {
	name, ok := strings.CutPrefix(tok, "_INBOX")
	if !ok {
		return false
	}
	if name == "" {
		return true
	}
	name, ok = strings.CutPrefix(name, "_")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// DecodeCreateSubscription decodes and validates a psub_create request; an
// absent start becomes start, or position when start_position is given.
func DecodeCreateSubscription(data []byte, l Limits) (*CreateSubscriptionRequest, error) {
	return decode(data, l, func(r *CreateSubscriptionRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription), ValidateSubscriptionFilter(r.Filter),
			validatePaired("start", &r.Start, startKinds, StartAtPosition, "start_position", r.StartPosition),
			validateSettings(r.Settings))
	}, "start", "strategy")
}

// startKinds are the values of start; the first is the default.
var startKinds = []string{StartAtStart, StartAtEnd, StartAtPosition}

// DecodeUpdateSubscription decodes and validates a psub_update request.
func DecodeUpdateSubscription(data []byte, l Limits) (*UpdateSubscriptionRequest, error) {
	return decode(data, l, func(r *UpdateSubscriptionRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription), validateSettings(r.Settings))
	}, "strategy")
}

// DecodeSubscriptionRequest decodes a request naming one subscription
// (psub_delete, psub_info).
func DecodeSubscriptionRequest(data []byte, l Limits) (*SubscriptionRequest, error) {
	return decode(data, l, func(r *SubscriptionRequest) error { return ValidateSubscriptionName("subscription", r.Subscription) })
}

// DecodeListSubscriptions decodes a psub_list request (the empty map).
func DecodeListSubscriptions(data []byte, l Limits) (*ListSubscriptionsRequest, error) {
	return decode(data, l, func(*ListSubscriptionsRequest) error { return nil })
}

// DecodeJoin decodes and validates a psub_join request; heartbeat is the
// effective heartbeat interval in milliseconds.
func DecodeJoin(data []byte, l Limits) (req *JoinRequest, heartbeat int64, err error) {
	req, err = decode(data, l, func(r *JoinRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription), ValidateSubscriptionName("consumer", r.Consumer),
			ValidateDeliverSubject(r.Deliver), validateRange("heartbeat_ms", r.HeartbeatMs, MinHeartbeatMs, MaxHeartbeatMs))
	})
	if err != nil {
		return nil, 0, err
	}
	return req, valueOr(req.HeartbeatMs, DefaultHeartbeatMs), nil
}

// ackActions are the values of action; the first is the default.
var ackActions = []string{ActionAck, ActionRetry, ActionRetryLater, ActionPark, ActionSkip}

// DecodeAck decodes and validates a psub_ack request: an absent action
// becomes ack, and delay is the effective retry delay (ms).
func DecodeAck(data []byte, l Limits) (req *AckRequest, delay int64, err error) {
	req, err = decode(data, l, func(r *AckRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription), ValidateSubscriptionName("consumer", r.Consumer),
			validatePositions(r.Positions), validateOneOf("action", &r.Action, ackActions[0], ackActions...), validateDelay(r))
	}, "action")
	if err != nil {
		return nil, 0, err
	}
	if req.Action == ActionRetryLater {
		delay = valueOr(req.DelayMs, DefaultRetryDelayMs)
	}
	return req, delay, nil
}

func validatePositions(positions []int64) error {
	if len(positions) == 0 || len(positions) > MaxAckPositions {
		return invalid("positions has %d entries; 1..%d are allowed", len(positions), MaxAckPositions)
	}
	for _, p := range positions {
		if err := validateFrom("position", &p); err != nil {
			return err
		}
	}
	return nil
}

// validateDelay checks delay_ms, which goes only with action retry_later.
func validateDelay(r *AckRequest) error {
	if r.DelayMs != nil && r.Action != ActionRetryLater {
		return invalid("delay_ms goes only with action %q", ActionRetryLater)
	}
	return validateRange("delay_ms", r.DelayMs, 0, MaxRetryDelayMs)
}

// DecodeParked decodes and validates a psub_parked request; limit is the page size.
func DecodeParked(data []byte, l Limits) (req *ParkedRequest, limit int, err error) {
	req, err = decode(data, l, func(r *ParkedRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription), validateFrom("after", r.After),
			validateCount("limit", r.Limit, DefaultListLimit, MaxListLimit, &limit))
	})
	return req, limit, err
}

// DecodeReplay decodes and validates a psub_replay request; count is the
// effective maximum number of events replayed.
func DecodeReplay(data []byte, l Limits) (req *ReplayRequest, count int, err error) {
	req, err = decode(data, l, func(r *ReplayRequest) error {
		return first(ValidateSubscriptionName("subscription", r.Subscription),
			validateCount("max_count", r.MaxCount, DefaultReplayCount, MaxReplayCount, &count))
	})
	return req, count, err
}

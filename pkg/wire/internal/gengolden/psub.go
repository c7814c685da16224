package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Persistent subscriptions (schemas/persistent-subscriptions.md). Their
// vectors live in testdata/psub/ (valid messages) and testdata/psub/invalid/
// (payloads to reject, indexed by cases.json), with the same file formats as
// the top level; pkg/wire/psub_golden_test.go checks them.

func psubSettings(maxInFlight, ackTimeoutMs, maxRetries int64, strategy string) wire.SubscriptionSettings {
	return wire.SubscriptionSettings{MaxInFlight: i64(maxInFlight), AckTimeoutMs: i64(ackTimeoutMs), MaxRetries: i64(maxRetries), Strategy: strategy}
}

var (
	psubOrders = wire.SubscriptionInfo{
		Subscription: "billing", Filter: wire.SubscriptionFilter{Category: "order", EventTypes: []string{"OrderPlaced", "OrderShipped"}},
		StartPosition: 70000, Settings: psubSettings(20, 30000, 10, wire.StrategyPinned), Created: ts1, Updated: ts2,
		Checkpoint: 70001, ParkedCount: 1, InFlight: 3, Waiting: 250,
		Consumers: []wire.ConsumerInfo{{Consumer: "billing-1", InFlight: 2}, {Consumer: "billing-2", InFlight: 1}},
	}
	psubAll = wire.SubscriptionInfo{
		Subscription: "audit", Filter: wire.SubscriptionFilter{}, StartPosition: 0,
		Settings: psubSettings(wire.DefaultMaxInFlight, wire.DefaultAckTimeoutMs, wire.DefaultMaxRetries, wire.StrategyRoundRobin),
		Created:  ts1, Updated: ts1, Consumers: []wire.ConsumerInfo{},
	}
)

func psubGoldens() []golden {
	created := psubAll
	existed := psubOrders
	existed.Existed = true
	return []golden{
		{"psub_create_request_minimal", "CreateSubscriptionRequest", "psub_create", "request",
			"Every event of the store from position 0, default settings: only the name.",
			wire.CreateSubscriptionRequest{Subscription: "audit"}},
		{"psub_create_request_full", "CreateSubscriptionRequest", "psub_create", "request",
			"A filter on a category and two event types, starting at a position, with every setting.",
			wire.CreateSubscriptionRequest{Subscription: "billing", Filter: &wire.SubscriptionFilter{Category: "order", EventTypes: []string{"OrderPlaced", "OrderShipped"}},
				Start: wire.StartAtPosition, StartPosition: i64(70000), Settings: &wire.SubscriptionSettings{MaxInFlight: i64(20), AckTimeoutMs: i64(30000), MaxRetries: i64(10), Strategy: wire.StrategyPinned}}},
		{"psub_create_request_stream_end", "CreateSubscriptionRequest", "psub_create", "request",
			"One stream, from the end of the store (only events appended after the creation).",
			wire.CreateSubscriptionRequest{Subscription: "order-1001.watch", Filter: &wire.SubscriptionFilter{Stream: "order-1001"}, Start: wire.StartAtEnd}},
		{"psub_create_reply", "SubscriptionInfo", "psub_create", "reply",
			"A new subscription: every setting resolved, checkpoint at the start, no consumers yet; existed absent.",
			created},
		{"psub_create_reply_existed", "SubscriptionInfo", "psub_create", "reply",
			"Creating a subscription again with the same definition succeeds with existed true.",
			existed},
		{"psub_update_request", "UpdateSubscriptionRequest", "psub_update", "request",
			"Change two settings; the others keep their value.",
			wire.UpdateSubscriptionRequest{Subscription: "billing", Settings: &wire.SubscriptionSettings{AckTimeoutMs: i64(60000), Strategy: wire.StrategyRoundRobin}}},
		{"psub_info_request", "SubscriptionRequest", "psub_info", "request",
			"Describe one subscription.",
			wire.SubscriptionRequest{Subscription: "billing"}},
		{"psub_info_reply", "SubscriptionInfo", "psub_info", "reply",
			"A subscription with two consumers, events in flight and waiting, one parked event.",
			psubOrders},
		{"psub_delete_request", "SubscriptionRequest", "psub_delete", "request",
			"Delete a subscription, its checkpoint and its parked events.",
			wire.SubscriptionRequest{Subscription: "audit"}},
		{"psub_delete_reply", "DeleteSubscriptionReply", "psub_delete", "reply",
			"The deleted subscription's name.",
			wire.DeleteSubscriptionReply{Subscription: "audit"}},
		{"psub_list_request", "ListSubscriptionsRequest", "psub_list", "request",
			"The empty map: every subscription of the store.",
			wire.ListSubscriptionsRequest{}},
		{"psub_list_reply", "ListSubscriptionsReply", "psub_list", "reply",
			"Subscriptions in name order.",
			wire.ListSubscriptionsReply{Subscriptions: []wire.SubscriptionInfo{psubAll, psubOrders}}},
		{"psub_join_request", "JoinRequest", "psub_join", "request",
			"Join (and, repeated every heartbeat_ms, stay joined) as consumer billing-1, deliveries to an inbox.",
			wire.JoinRequest{Subscription: "billing", Consumer: "billing-1", Deliver: "_INBOX.kXJ3sQ5rWb8Ym2Tn9Pq1Zc", HeartbeatMs: i64(1000)}},
		{"psub_join_reply", "JoinReply", "psub_join", "reply",
			"The consumer was not joined on this leader before (first join, leader change, or expiry).",
			wire.JoinReply{HeartbeatMs: 1000, Joined: true}},
		{"psub_join_reply_heartbeat", "JoinReply", "psub_join", "reply",
			"A heartbeat of a joined consumer: joined absent.",
			wire.JoinReply{HeartbeatMs: 1000}},
		{"psub_ack_request", "AckRequest", "psub_ack", "request",
			"Ack two events: action absent means ack.",
			wire.AckRequest{Subscription: "billing", Consumer: "billing-1", Positions: []int64{70001, 70002}}},
		{"psub_ack_request_retry_later", "AckRequest", "psub_ack", "request",
			"Nack one event: deliver it again in 5 seconds.",
			wire.AckRequest{Subscription: "billing", Consumer: "billing-1", Positions: []int64{70003}, Action: wire.ActionRetryLater, DelayMs: i64(5000)}},
		{"psub_ack_request_park", "AckRequest", "psub_ack", "request",
			"Nack one event: park it.",
			wire.AckRequest{Subscription: "billing", Consumer: "billing-1", Positions: []int64{70004}, Action: wire.ActionPark}},
		{"psub_ack_reply", "AckReply", "psub_ack", "reply",
			"Every position was in flight to the consumer.",
			wire.AckReply{Done: 2}},
		{"psub_ack_reply_partial", "AckReply", "psub_ack", "reply",
			"One position was settled, one was not in flight to this consumer (left alone).",
			wire.AckReply{Done: 1, NotInFlight: []uint64{70002}}},
		{"psub_delivery", "Delivery", "psub_join", "event",
			"A first delivery, published to the consumer's deliver subject.",
			wire.Delivery{Subscription: "billing", Event: ev1, DeliveryCount: 1}},
		{"psub_delivery_redelivered", "Delivery", "psub_join", "event",
			"A redelivery (after a nack, an ack timeout or a leader change).",
			wire.Delivery{Subscription: "billing", Event: ev2, DeliveryCount: 3, Redelivered: true}},
		{"psub_delivery_replay", "Delivery", "psub_join", "event",
			"A parked event delivered again by psub_replay.",
			wire.Delivery{Subscription: "billing", Event: ev3, DeliveryCount: 12, Redelivered: true, Replay: true}},
		{"psub_parked_request", "ParkedRequest", "psub_parked", "request",
			"The page of parked events after position 70000, at most 50.",
			wire.ParkedRequest{Subscription: "billing", After: i64(70000), Limit: i64(50)}},
		{"psub_parked_reply", "ParkedReply", "psub_parked", "reply",
			"Parked events with why and when they were parked; more says another page follows.",
			wire.ParkedReply{Events: []wire.ParkedEvent{
				{Event: ev2, Reason: wire.ParkedByMaxRetries, DeliveryCount: 11, Parked: ts2},
				{Event: ev3, Reason: wire.ParkedByNack, DeliveryCount: 1, Parked: ts2},
			}, More: true}},
		{"psub_parked_reply_empty", "ParkedReply", "psub_parked", "reply",
			"Nothing parked: an empty array, more absent.",
			wire.ParkedReply{Events: []wire.ParkedEvent{}}},
		{"psub_replay_request", "ReplayRequest", "psub_replay", "request",
			"Deliver up to 100 parked events again.",
			wire.ReplayRequest{Subscription: "billing", MaxCount: i64(100)}},
		{"psub_replay_reply", "ReplayReply", "psub_replay", "reply",
			"How many parked events were queued for delivery.",
			wire.ReplayReply{Replaying: 2}},
		{"psub_error_subscription_not_found", "ErrorReply", "", "error",
			"Any operation naming a subscription that does not exist.",
			wire.ErrorReply{Code: int(codes.SubscriptionNotFound), Name: codes.SubscriptionNotFound.Name(), Message: `subscription "billing" does not exist`}},
	}
}

func psubInvalids() []invalid {
	sub := func(kv ...any) []byte { return enc(obj(append([]any{"subscription", "billing"}, kv...))) }
	ack := func(kv ...any) []byte {
		return enc(obj(append([]any{"subscription", "billing", "consumer", "c1", "positions", []any{5}}, kv...)))
	}
	types := make([]any, 101)
	for i := range types {
		types[i] = fmt.Sprintf("T%d", i)
	}
	return []invalid{
		{"create_not_a_map", "psub_create", codes.MalformedRequest, "A bare string.", enc("billing"), nil},
		{"create_missing_name", "psub_create", codes.InvalidSubscriptionName, "The empty map: no subscription.", []byte{0x80}, nil},
		{"create_name_space", "psub_create", codes.InvalidSubscriptionName, "A space in the name.", enc(obj{"subscription", "bill ing"}), nil},
		{"create_name_too_long", "psub_create", codes.InvalidSubscriptionName, "A name of 65 bytes.", enc(obj{"subscription", strings.Repeat("b", 65)}), nil},
		{"create_name_dot_first", "psub_create", codes.InvalidSubscriptionName, "A name must start with a letter or digit.", enc(obj{"subscription", ".billing"}), nil},
		{"create_unknown_field", "psub_create", codes.InvalidArgument, "An unknown key.", sub("durable", true), nil},
		{"create_filter_stream_reserved", "psub_create", codes.InvalidFilter, "filter.stream starting with $.", sub("filter", obj{"stream", "$all"}), nil},
		{"create_filter_stream_and_category", "psub_create", codes.InvalidFilter, "filter.stream with filter.category.", sub("filter", obj{"stream", "order-1", "category", "order"}), nil},
		{"create_filter_category_dash", "psub_create", codes.InvalidFilter, "A category never contains '-'.", sub("filter", obj{"category", "order-eu"}), nil},
		{"create_filter_empty_event_type", "psub_create", codes.InvalidFilter, "An empty event type.", sub("filter", obj{"event_types", []any{""}}), nil},
		{"create_filter_too_many_types", "psub_create", codes.InvalidFilter, "101 event types.", sub("filter", obj{"event_types", types}), nil},
		{"create_start_bad", "psub_create", codes.InvalidArgument, "start is not start, end or position.", sub("start", "beginning"), nil},
		{"create_start_empty", "psub_create", codes.InvalidArgument, "start is the empty string: leave it out for the default.", sub("start", ""), nil},
		{"create_start_position_missing", "psub_create", codes.InvalidArgument, "start position without start_position.", sub("start", "position"), nil},
		{"create_start_end_with_position", "psub_create", codes.InvalidArgument, "start_position with start end.", sub("start", "end", "start_position", 3), nil},
		{"create_start_position_negative", "psub_create", codes.InvalidArgument, "start_position -1.", sub("start_position", -1), nil},
		{"create_max_in_flight_zero", "psub_create", codes.InvalidArgument, "settings.max_in_flight 0.", sub("settings", obj{"max_in_flight", 0}), nil},
		{"create_ack_timeout_too_small", "psub_create", codes.InvalidArgument, "settings.ack_timeout_ms 9.", sub("settings", obj{"ack_timeout_ms", 9}), nil},
		{"create_max_retries_too_large", "psub_create", codes.InvalidArgument, "settings.max_retries 1001.", sub("settings", obj{"max_retries", 1001}), nil},
		{"create_strategy_bad", "psub_create", codes.InvalidArgument, "settings.strategy is case-sensitive.", sub("settings", obj{"strategy", "Pinned"}), nil},
		{"create_strategy_empty", "psub_create", codes.InvalidArgument, "settings.strategy is the empty string.", sub("settings", obj{"strategy", ""}), nil},
		{"update_strategy_empty", "psub_update", codes.InvalidArgument, "settings.strategy is the empty string (absent keeps the current strategy).", sub("settings", obj{"strategy", ""}), nil},
		{"update_settings_string", "psub_update", codes.InvalidArgument, "settings is a string.", sub("settings", "fast"), nil},
		{"delete_name_int", "psub_delete", codes.InvalidArgument, "subscription is an integer.", enc(obj{"subscription", 7}), nil},
		{"info_name_control", "psub_info", codes.InvalidSubscriptionName, "A control character in the name.", enc(obj{"subscription", "bill\x00ing"}), nil},
		{"list_unknown_field", "psub_list", codes.InvalidArgument, "psub_list takes the empty map.", enc(obj{"limit", 10}), nil},
		{"join_deliver_not_inbox", "psub_join", codes.InvalidArgument, "deliver outside _INBOX.", sub("consumer", "c1", "deliver", "store.default.append"), nil},
		{"join_deliver_wildcard", "psub_join", codes.InvalidArgument, "deliver with a wildcard.", sub("consumer", "c1", "deliver", "_INBOX.>"), nil},
		{"join_missing_consumer", "psub_join", codes.InvalidSubscriptionName, "No consumer.", sub("deliver", "_INBOX.a"), nil},
		{"join_heartbeat_too_short", "psub_join", codes.InvalidArgument, "heartbeat_ms 49.", sub("consumer", "c1", "deliver", "_INBOX.a", "heartbeat_ms", 49), nil},
		{"ack_no_positions", "psub_ack", codes.InvalidArgument, "positions is empty.", sub("consumer", "c1", "positions", []any{}), nil},
		{"ack_negative_position", "psub_ack", codes.InvalidArgument, "A negative position.", sub("consumer", "c1", "positions", []any{-1}), nil},
		{"ack_bad_action", "psub_ack", codes.InvalidArgument, "An action that is not one of the five.", ack("action", "nack"), nil},
		{"ack_action_empty", "psub_ack", codes.InvalidArgument, "action is the empty string: leave it out to ack.", ack("action", ""), nil},
		{"ack_delay_without_retry_later", "psub_ack", codes.InvalidArgument, "delay_ms with action retry.", ack("action", "retry", "delay_ms", 100), nil},
		{"ack_delay_too_long", "psub_ack", codes.InvalidArgument, "delay_ms over an hour.", ack("action", "retry_later", "delay_ms", 3600001), nil},
		{"parked_limit_zero", "psub_parked", codes.InvalidArgument, "limit 0.", sub("limit", 0), nil},
		{"replay_max_count_too_large", "psub_replay", codes.InvalidArgument, "max_count 10001.", sub("max_count", 10001), nil},
	}
}

// psubFiles builds the files of testdata/psub.
func psubFiles() ([]file, error) {
	var out []file
	seen := map[string]bool{}
	for _, g := range psubGoldens() {
		if seen[g.name] {
			return nil, fmt.Errorf("duplicate case %s", g.name)
		}
		seen[g.name] = true
		if got := fmt.Sprintf("%T", g.value); got != "wire."+g.message {
			return nil, fmt.Errorf("%s: value is %s, message says %s", g.name, got, g.message)
		}
		b, err := wire.Marshal(g.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		val, err := toJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		type envelope struct {
			Message     string          `json:"message"`
			Operation   string          `json:"operation,omitempty"`
			Kind        string          `json:"kind"`
			Description string          `json:"description"`
			Value       json.RawMessage `json:"value"`
		}
		j, err := marshalJSON(envelope{g.message, g.operation, g.kind, g.description, val})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		out = append(out, file{filepath.Join("psub", g.name+".msgpack"), b}, file{filepath.Join("psub", g.name+".json"), j})
	}
	type caseInfo struct {
		Operation   string `json:"operation"`
		Code        string `json:"code"`
		CodeNumber  int    `json:"code_number"`
		Description string `json:"description"`
	}
	index := map[string]caseInfo{}
	for _, c := range psubInvalids() {
		name := c.name + ".msgpack"
		if _, dup := index[name]; dup {
			return nil, fmt.Errorf("duplicate invalid case %s", c.name)
		}
		index[name] = caseInfo{c.operation, c.code.Name(), int(c.code), c.description}
		out = append(out, file{filepath.Join("psub", "invalid", name), c.data})
	}
	j, err := marshalJSON(index)
	if err != nil {
		return nil, err
	}
	return append(out, file{filepath.Join("psub", "invalid", "cases.json"), j}), nil
}

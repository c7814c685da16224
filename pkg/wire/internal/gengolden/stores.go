package main

import (
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// The store lifecycle API: stores.<op> requests and replies, and the
// lifecycle events published on stores.events.<store>.<kind>. Their
// "operation" is the whole subject (stores.create), which cannot be mistaken
// for an operation of store.<store>.<op>.

const (
	mismatch = "configuration differs from the registry, which wins: max_event_size: configured 2097152, stored 1048576"
	ts3      = int64(1732358462000000000)
)

var (
	cfgTenant = wire.StoreConfig{Store: "tenant-a", ShardID: 7, ReplicationFactor: 1, RequestTimeoutMs: 5000,
		MaxEventSize: 1048576, MaxAppendEvents: 1000, MaxReadCount: 4096, Origin: "api", Created: ts1}
	cfgDefault = wire.StoreConfig{Store: "default", ShardID: 2, ReplicationFactor: 1, RequestTimeoutMs: 5000,
		MaxEventSize: 1048576, MaxAppendEvents: 1000, MaxReadCount: 4096, Origin: "default", Created: ts0}
	cfgOrders = wire.StoreConfig{Store: "orders", ShardID: 3, ReplicationFactor: 3, RequestTimeoutMs: 10000,
		MaxEventSize: 262144, MaxAppendEvents: 500, MaxReadCount: 1000, Origin: "config", Created: ts0}

	stTenant  = wire.StoreStatus{Store: "tenant-a", Status: wire.StatusRunning, Leader: 1, Replicas: []uint64{1}, Created: ts1, Updated: ts2}
	stDefault = wire.StoreStatus{Store: "default", Status: wire.StatusRunning, Leader: 1, Replicas: []uint64{1}, Created: ts0, Updated: ts0}
	stOrders  = wire.StoreStatus{Store: "orders", Status: wire.StatusRunning, Leader: 2, Replicas: []uint64{1, 2, 3}, Created: ts0, Updated: ts0, ConfigMismatch: mismatch}
)

func storeGoldens() []golden {
	return []golden{
		{"create_store_request_minimal", "CreateStoreRequest", "stores.create", "request",
			"Create a store with the cluster's default settings: settings is absent.",
			wire.CreateStoreRequest{Store: "tenant-a"}},
		{"create_store_request_settings", "CreateStoreRequest", "stores.create", "request",
			"Create a store with every setting given.",
			wire.CreateStoreRequest{Store: "orders", Settings: &wire.StoreSettings{
				ReplicationFactor: i64(3), RequestTimeoutMs: i64(10000), MaxEventSize: i64(262144), MaxAppendEvents: i64(500), MaxReadCount: i64(1000)}}},
		{"create_store_request_partial", "CreateStoreRequest", "stores.create", "request",
			"Create a store with one setting given; the others take the cluster's defaults.",
			wire.CreateStoreRequest{Store: "audit_log-2", Settings: &wire.StoreSettings{RequestTimeoutMs: i64(30000)}}},
		{"create_store_reply", "CreateStoreReply", "stores.create", "reply",
			"A new store, created and running: the effective config (every setting resolved) and the status. existed is absent.",
			wire.CreateStoreReply{Config: cfgTenant, Status: stTenant}},
		{"create_store_reply_existed", "CreateStoreReply", "stores.create", "reply",
			"Creating a store that already exists with the same settings succeeds again with existed true.",
			wire.CreateStoreReply{Config: cfgOrders, Status: stOrders, Existed: true}},
		{"create_store_reply_creating", "CreateStoreReply", "stores.create", "reply",
			"The store did not run before the request's deadline: status creating, leader absent. It keeps starting; poll stores.status.",
			wire.CreateStoreReply{Config: cfgTenant, Status: wire.StoreStatus{Store: "tenant-a", Status: wire.StatusCreating, Replicas: []uint64{1}, Created: ts1, Updated: ts1}}},

		{"store_request_remove", "StoreRequest", "stores.remove", "request",
			"Remove a store, named by its exact id.",
			wire.StoreRequest{Store: "tenant-a"}},
		{"store_request_status", "StoreRequest", "stores.status", "request",
			"Ask for one store's status.",
			wire.StoreRequest{Store: "orders"}},
		{"set_quota_request", "SetQuotaRequest", "stores.set_quota", "request",
			"Set a store's quota: at most a million events and 1 GiB of events stored. An absent field keeps its current value; 0 removes that limit. The reply is the store's StoreConfig.",
			wire.SetQuotaRequest{Store: "tenant-a", MaxEvents: i64(1000000), MaxBytes: i64(1 << 30)}},
		{"store_config_reply_quota", "StoreConfig", "stores.set_quota", "reply",
			"The configuration of a store with a quota (the reply of stores.set_quota, stores.config and store.<store>.config).",
			wire.StoreConfig{Store: "tenant-a", ShardID: 7, ReplicationFactor: 1, RequestTimeoutMs: 5000,
				MaxEventSize: 1048576, MaxAppendEvents: 1000, MaxReadCount: 4096, MaxEvents: 1000000, MaxBytes: 1 << 30, Origin: "api", Created: ts1}},
		{"store_status_reply_usage", "StoreStatus", "stores.status", "reply",
			"A store with a quota: usage says what it holds (events, and their bytes as the quota counts them) and its quota.",
			wire.StoreStatus{Store: "tenant-a", Status: wire.StatusRunning, Leader: 1, Replicas: []uint64{1}, Created: ts1, Updated: ts2,
				Usage: &wire.StoreUsage{Events: 1234, Bytes: 567890, MaxEvents: 1000000, MaxBytes: 1 << 30}}},
		{"store_request_config", "StoreRequest", "stores.config", "request",
			"Ask for one store's effective configuration.",
			wire.StoreRequest{Store: "default"}},
		{"remove_store_reply", "RemoveStoreReply", "stores.remove", "reply",
			"Removal started: status removing. The removed event follows once every replica is gone.",
			wire.RemoveStoreReply{Status: wire.StoreStatus{Store: "tenant-a", Status: wire.StatusRemoving, Leader: 1, Replicas: []uint64{1}, Created: ts1, Updated: ts3}}},

		{"list_stores_request_minimal", "ListStoresRequest", "stores.list", "request",
			"Every field is optional: the first 100 stores, in id order.",
			wire.ListStoresRequest{}},
		{"list_stores_request", "ListStoresRequest", "stores.list", "request",
			"The next page of at most 2 stores after default.",
			wire.ListStoresRequest{After: "default", Limit: i64(2)}},
		{"list_stores_reply", "ListStoresReply", "stores.list", "reply",
			"A full page with more to come: next is the last id of the page; pass it as after. The second store is placed on three storenodes and this node's configuration differs from it.",
			wire.ListStoresReply{Stores: []wire.StoreStatus{stDefault, stOrders}, Next: "orders"}},
		{"list_stores_reply_last", "ListStoresReply", "stores.list", "reply",
			"The last page: next is absent.",
			wire.ListStoresReply{Stores: []wire.StoreStatus{stTenant}}},
		{"list_stores_reply_empty", "ListStoresReply", "stores.list", "reply",
			"No store after the cursor: an empty array, next absent.",
			wire.ListStoresReply{Stores: []wire.StoreStatus{}}},

		{"store_status_reply", "StoreStatus", "stores.status", "reply",
			"A running store with one replica, on node 1, which leads it.",
			stTenant},
		{"store_status_reply_mismatch", "StoreStatus", "stores.status", "reply",
			"A store declared in this node's configuration with other settings than the registry's: config_mismatch says how; the registry's settings apply.",
			stOrders},
		{"store_config_reply", "StoreConfig", "stores.config", "reply",
			"A store created through stores.create: origin api.",
			cfgTenant},
		{"store_config_reply_default", "StoreConfig", "stores.config", "reply",
			"The default store: origin default, shard 2.",
			cfgDefault},

		{"store_event_created", "StoreEvent", "", "event",
			"Published on stores.events.tenant-a.created when the store enters the registry. previous is absent.",
			wire.StoreEvent{Store: "tenant-a", Kind: wire.EventCreated, Status: wire.StatusCreating, Timestamp: ts1}},
		{"store_event_running", "StoreEvent", "", "event",
			"Published on stores.events.tenant-a.status_changed when the store starts serving.",
			wire.StoreEvent{Store: "tenant-a", Kind: wire.EventStatusChanged, Status: wire.StatusRunning, Previous: wire.StatusCreating, Timestamp: ts2}},
		{"store_event_removing", "StoreEvent", "", "event",
			"Published on stores.events.tenant-a.status_changed when removal starts.",
			wire.StoreEvent{Store: "tenant-a", Kind: wire.EventStatusChanged, Status: wire.StatusRemoving, Previous: wire.StatusRunning, Timestamp: ts3}},
		{"store_event_removed", "StoreEvent", "", "event",
			"Published on stores.events.tenant-a.removed when every replica is gone and the store left the registry: status is removed.",
			wire.StoreEvent{Store: "tenant-a", Kind: wire.EventRemoved, Status: "removed", Previous: wire.StatusRemoving, Timestamp: ts3 + 1500000}},
	}
}

func storeInvalids() []invalid {
	create := func(kv ...any) []byte { return enc(obj(kv)) }
	return []invalid{
		// Store ids.
		{"create_store_missing_id", "stores.create", codes.InvalidStoreID, "No store key.", []byte{0x80}, nil},
		{"create_store_uppercase_id", "stores.create", codes.InvalidStoreID, "Store ids are lower case.", create("store", "Tenant-A"), nil},
		{"create_store_id_dot", "stores.create", codes.InvalidStoreID, "A dot would split the NATS subject.", create("store", "tenant.a"), nil},
		{"create_store_id_leading_dash", "stores.create", codes.InvalidStoreID, "An id must start with a-z or 0-9.", create("store", "-tenant"), nil},
		{"create_store_id_too_long", "stores.create", codes.InvalidStoreID, "65 characters; the maximum is 64.", create("store", strings.Repeat("a", 65)), nil},
		{"remove_store_wildcard", "stores.remove", codes.InvalidStoreID, "Removal needs the exact id: no patterns.", create("store", "tenant-*"), nil},
		{"remove_store_empty_id", "stores.remove", codes.InvalidStoreID, "store is the empty string.", create("store", ""), nil},
		{"status_store_missing_id", "stores.status", codes.InvalidStoreID, "The empty map.", []byte{0x80}, nil},
		{"config_store_bad_id", "stores.config", codes.InvalidStoreID, "A space in the id.", create("store", "my store"), nil},

		// Settings: their shape is checked by the decoder (invalid_argument);
		// their values by the registry (invalid_settings, not testable here).
		{"create_store_unknown_setting", "stores.create", codes.InvalidArgument, "An unknown key inside settings (replicas is not a setting; replication_factor is).", create("store", "tenant-a", "settings", obj{"replicas", 3}), nil},
		{"create_store_setting_wrong_type", "stores.create", codes.InvalidArgument, "settings.replication_factor is a string.", create("store", "tenant-a", "settings", obj{"replication_factor", "3"}), nil},
		{"create_store_setting_float", "stores.create", codes.InvalidArgument, "settings.request_timeout_ms is a float64.", create("store", "tenant-a", "settings", obj{"request_timeout_ms", 10000.0}), nil},
		{"create_store_settings_not_map", "stores.create", codes.InvalidArgument, "settings is an integer, not a map.", create("store", "tenant-a", "settings", 3), nil},
		{"create_store_setting_top_level", "stores.create", codes.InvalidArgument, "A setting given next to store instead of inside settings.", create("store", "tenant-a", "replication_factor", 3), nil},
		{"store_request_wrong_type", "stores.status", codes.InvalidArgument, "store is an integer.", create("store", 7), nil},
		{"store_request_unknown_field", "stores.remove", codes.InvalidArgument, "An unknown key (there is no force flag).", create("store", "tenant-a", "force", true), nil},

		// stores.list.
		{"list_stores_negative_limit", "stores.list", codes.InvalidArgument, "limit -1.", create("limit", -1), nil},
		{"list_stores_limit_zero", "stores.list", codes.InvalidArgument, "limit 0.", create("limit", 0), nil},
		{"list_stores_limit_too_large", "stores.list", codes.InvalidArgument, "limit 1001; the maximum is 1000.", create("limit", 1001), nil},
		{"list_stores_limit_string", "stores.list", codes.InvalidArgument, "limit is a string.", create("limit", "10"), nil},
		{"list_stores_bad_after", "stores.list", codes.InvalidArgument, "after must be a valid store id (or absent); a bad one is invalid_argument, not invalid_store_id.", create("after", "Default"), nil},
		{"list_stores_prefix", "stores.list", codes.InvalidArgument, "stores.list has no prefix field.", create("prefix", "tenant-"), nil},

		// Not a map, and an unknown operation.
		{"stores_nil_instead_of_map", "stores.list", codes.MalformedRequest, "MessagePack nil: even stores.list, whose fields are all optional, needs a map.", []byte{0xc0}, nil},
		{"stores_trailing_bytes", "stores.status", codes.MalformedRequest, "A valid request followed by one more byte.", cat(create("store", "default"), []byte{0xc0}), nil},
		{"unknown_store_operation", "stores.rename", codes.UnknownOperation, "A valid payload sent to a lifecycle operation that does not exist (subject stores.rename).", create("store", "tenant-a"), nil},
		{"store_events_not_an_operation", "stores.events", codes.UnknownOperation, "stores.events is where lifecycle events are published under, not an operation.", []byte{0x80}, nil},
	}
}

// Package subjects is the one place where Logbook's NATS subject names are
// built and parsed. Nothing else in the code base writes a subject literal.
//
// Client-facing subjects (served by gateways, in the queue group
// GatewayQueue):
//
//	store.<store>.<op>          e.g. store.orders.append
//
// The internal `_LB.*` subjects between gateways and storenodes are not part
// of the client contract: they live in internal/proto.
//
// Store lifecycle (client-facing, served by gateways):
//
//	stores.<op>                 create, remove, list, status, config, set_quota
//	stores.events.<store>.<kind> lifecycle events: created, status_changed, removed
//
// Live events (client-facing, published by each store's leader; events.go):
//
//	events.<store>.<category>.<stream>.<type>
package subjects

import "strings"

// Operations on a store: the last token of store.<store>.<op>. What each
// one takes is in wire.StoreOps, the table of store operations.
const (
	OpAppend       = "append"
	OpRead         = "read"
	OpReadAll      = "read_all"
	OpListStreams  = "list_streams"
	OpStreamInfo   = "stream_info"
	OpDeleteStream = "delete_stream"

	// Aggregate snapshots (schemas/snapshots.md).
	OpSnapshotSave   = "snapshot_save"
	OpSnapshotRead   = "snapshot_read"
	OpSnapshotList   = "snapshot_list"
	OpSnapshotDelete = "snapshot_delete"
)

// Persistent subscriptions (schemas/persistent-subscriptions.md).
const (
	OpPSubCreate = "psub_create"
	OpPSubUpdate = "psub_update"
	OpPSubDelete = "psub_delete"
	OpPSubList   = "psub_list"
	OpPSubInfo   = "psub_info"
	OpPSubJoin   = "psub_join"
	OpPSubAck    = "psub_ack"
	OpPSubParked = "psub_parked"
	OpPSubReplay = "psub_replay"
)

// Backup and restore (schemas/backup.md): a backup pulls one consistent view
// of the store chunk by chunk; a restore pushes a backup into a store created
// for it (stores.create with restore set).
const (
	OpBackup  = "backup"
	OpRestore = "restore"
)

const (
	storePrefix = "store."
	// StoreWildcard is what the gateway endpoint subscribes to. It matches any
	// number of trailing tokens so that a malformed subject still gets an answer.
	StoreWildcard = "store.>"
	// GatewayQueue is the queue group every gateway joins.
	GatewayQueue = "logbook.gateway"
	// ServiceName is the NATS micro service name of the gateway ($SRV.*.logbook).
	ServiceName = "logbook"
)

// Store returns the client-facing subject of op on store.
func Store(store, op string) string { return storePrefix + store + "." + op }

// ParseStore splits a client-facing subject into store id and operation.
// ok is false when the subject does not have exactly three tokens under
// "store."; the tokens are returned unvalidated.
func ParseStore(subject string) (store, op string, ok bool) {
	rest, found := strings.CutPrefix(subject, storePrefix)
	if !found {
		return "", "", false
	}
	store, op, found = strings.Cut(rest, ".")
	if !found || store == "" || op == "" || strings.Contains(op, ".") {
		return store, op, false
	}
	return store, op, true
}

// Store lifecycle operations: the last token of stores.<op>.
const (
	StoresCreate = "create"
	StoresRemove = "remove"
	StoresList   = "list"
	StoresStatus = "status"
	StoresConfig = "config"
	// StoresSetQuota changes a store's quota (max_events, max_bytes): an
	// admin operation, like create and remove.
	StoresSetQuota = "set_quota"
)

// StoresOps lists every store lifecycle operation.
var StoresOps = []string{StoresCreate, StoresRemove, StoresList, StoresStatus, StoresConfig, StoresSetQuota}

// Store-scoped registry reads: store.<store>.status and store.<store>.config
// answer what stores.status and stores.config answer for that store, with
// the store id in the subject rather than the payload, so that a NATS
// subject permission on store.<store>.> grants a tenant everything of its
// own store, its status and configuration included, and nothing of another
// (docs/security.md). The request body is empty (or an empty map).
const (
	StoreStatus = "status"
	StoreConfig = "config"
)

// StoreRegistryReads maps each store-scoped registry read to the lifecycle
// operation that answers it.
var StoreRegistryReads = map[string]string{StoreStatus: StoresStatus, StoreConfig: StoresConfig}

// IsStoresWrite reports whether a lifecycle operation changes the registry.
func IsStoresWrite(op string) bool {
	return op == StoresCreate || op == StoresRemove || op == StoresSetQuota
}

const (
	storesPrefix = "stores."
	// StoresWildcard is what the gateway's lifecycle endpoint subscribes to.
	StoresWildcard = "stores.*"
	// StoreEventsAll matches every lifecycle event.
	StoreEventsAll = "stores.events.>"
)

// Stores returns the client-facing subject of a lifecycle operation.
func Stores(op string) string { return storesPrefix + op }

// ParseStores returns the lifecycle operation of a stores.<op> subject.
func ParseStores(subject string) (op string, ok bool) {
	op, ok = strings.CutPrefix(subject, storesPrefix)
	return op, ok && op != "" && !strings.Contains(op, ".")
}

// StoreEvent returns the subject of a lifecycle event.
func StoreEvent(store, kind string) string { return storesPrefix + "events." + store + "." + kind }

// StoreEvents matches every lifecycle event of one store.
func StoreEvents(store string) string { return storesPrefix + "events." + store + ".*" }

// TenantPermissions returns the NATS subjects a tenant of the given stores
// may publish and subscribe to (docs/security.md): requests on
// store.<store>.> (every operation on its stores, their status and
// configuration included), replies on its own inbox prefix, and its
// stores' live events. Nothing of the store lifecycle (stores.*), the
// cluster (cluster.*) or Logbook's internal subjects (_LB.>).
func TenantPermissions(stores []string, inboxPrefix string) (publish, subscribe []string) {
	subscribe = []string{inboxPrefix + ".>"}
	for _, s := range stores {
		publish = append(publish, storePrefix+s+".>")
		subscribe = append(subscribe, eventsPrefix+s+".>")
	}
	return publish, subscribe
}

// ServiceImportReplyPrefix starts the reply subject NATS gives a request
// that crossed a service import from another account (`_R_.<prefix>.<id>`):
// NATS routes what is published there back to the requester's own reply
// subject in its account. Nothing of Logbook listens under it; the
// gateways answer there (docs/security.md, "Tenants as accounts").
const ServiceImportReplyPrefix = "_R_."

// IsServiceImportReply reports whether s is a literal reply subject NATS
// made for a request that crossed a service import.
func IsServiceImportReply(s string) bool {
	rest, ok := strings.CutPrefix(s, ServiceImportReplyPrefix)
	if !ok || rest == "" || len(s) > 255 {
		return false
	}
	for _, tok := range strings.Split(rest, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

// Package subjects is the one place where Logbook's NATS subject names are
// built and parsed. Nothing else in the code base writes a subject literal.
//
// Client-facing subjects (served by gateways, in the queue group
// GatewayQueue):
//
//	store.<store>.<op>          e.g. store.orders.append
//
// Internal subjects (gateway → storenode; not part of the public contract):
//
//	_LB.leader.<store>.<op>     served by the storenode that leads the store
//	_LB.registry.lookup         answered by any storenode: does a store exist?
//	_LB.owner._cluster          answered by every storenode: its cluster's identity
//	_LB.meta.<op>               store lifecycle writes, served by the meta shard's leader
//	_LB.metaread.<op>           store lifecycle reads, served by any storenode
//
// Store lifecycle (client-facing, served by gateways):
//
//	stores.<op>                 create, remove, list, status, config
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

const (
	storePrefix = "store."
	// StoreWildcard is what the gateway endpoint subscribes to. It matches any
	// number of trailing tokens so that a malformed subject still gets an answer.
	StoreWildcard = "store.>"
	// GatewayQueue is the queue group every gateway joins.
	GatewayQueue = "logbook.gateway"
	// ServiceName is the NATS micro service name of the gateway ($SRV.*.logbook).
	ServiceName = "logbook"

	internalPrefix = "_LB."
	leaderPrefix   = internalPrefix + "leader."
	// RegistryLookup answers whether a store exists (any storenode replies).
	RegistryLookup = internalPrefix + "registry.lookup"
	// StorenodeQueue is the queue group storenodes use for subjects any one of
	// them may answer.
	StorenodeQueue = "logbook.storenode"
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

// Leader returns the internal subject on which the leader of store serves op.
func Leader(store, op string) string { return leaderPrefix + store + "." + op }

// Store lifecycle operations: the last token of stores.<op>.
const (
	StoresCreate = "create"
	StoresRemove = "remove"
	StoresList   = "list"
	StoresStatus = "status"
	StoresConfig = "config"
)

// StoresOps lists every store lifecycle operation.
var StoresOps = []string{StoresCreate, StoresRemove, StoresList, StoresStatus, StoresConfig}

// IsStoresWrite reports whether a lifecycle operation changes the registry.
func IsStoresWrite(op string) bool { return op == StoresCreate || op == StoresRemove }

const (
	storesPrefix = "stores."
	// StoresWildcard is what the gateway's lifecycle endpoint subscribes to.
	StoresWildcard = "stores.*"
	// StoreEventsAll matches every lifecycle event.
	StoreEventsAll = "stores.events.>"
	metaPrefix     = internalPrefix + "meta."
	metaReadPrefix = internalPrefix + "metaread."
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

// Meta returns the internal subject of a lifecycle write (meta leader).
func Meta(op string) string { return metaPrefix + op }

// MetaWildcard is what the meta leader subscribes to.
const MetaWildcard = metaPrefix + "*"

// MetaRead returns the internal subject of a lifecycle read (any storenode).
func MetaRead(op string) string { return metaReadPrefix + op }

// MetaReadWildcard is what every storenode subscribes to, in StorenodeQueue.
const MetaReadWildcard = metaReadPrefix + "*"

// Owner returns an identity subject: Owner("_cluster") is where every
// storenode answers with its cluster's UID, so that two unrelated Logbooks on
// one NATS server never both serve.
func Owner(name string) string { return internalPrefix + "owner." + name }

// LeaderWildcard is what a storenode subscribes to for a store it leads.
func LeaderWildcard(store string) string { return leaderPrefix + store + ".*" }

// ParseLeader splits an internal leader subject into store and operation.
func ParseLeader(subject string) (store, op string, ok bool) {
	rest, found := strings.CutPrefix(subject, leaderPrefix)
	if !found {
		return "", "", false
	}
	store, op, found = strings.Cut(rest, ".")
	return store, op, found && store != "" && op != "" && !strings.Contains(op, ".")
}

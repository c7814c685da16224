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
//	_LB.owner.<store>           answered by every replica of the store: its identity
package subjects

import "strings"

// Operations on a store: the last token of store.<store>.<op>.
const (
	OpAppend       = "append"
	OpRead         = "read"
	OpReadAll      = "read_all"
	OpListStreams  = "list_streams"
	OpStreamInfo   = "stream_info"
	OpDeleteStream = "delete_stream"
)

// Ops lists every store operation.
var Ops = []string{OpAppend, OpRead, OpReadAll, OpListStreams, OpStreamInfo, OpDeleteStream}

// IsOp reports whether op is a known store operation.
func IsOp(op string) bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

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

// Owner returns the subject on which every replica of store answers with
// the store's identity, so that two unrelated Logbooks on one NATS never
// both serve a store of the same id.
func Owner(store string) string { return internalPrefix + "owner." + store }

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

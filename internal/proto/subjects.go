package proto

import (
	"strconv"
	"strings"
)

// Internal subjects:
//
//	_LB.leader.<store>.<op>        served by the storenode that leads the store (no queue group: see storeops)
//	_LB.newleader.<store>          published by a storenode once it serves a store's leader subjects
//	_LB.registry.lookup            answered by any storenode: does a store exist? (RegistryAnswer)
//	_LB.owner._cluster             answered by every storenode: its cluster's identity (OwnerReply)
//	_LB.meta.<op>                  registry writes, served by the meta shard's leader (no queue group)
//	_LB.metaread.<op>              registry and cluster reads, served by any storenode
//	_LB.discover                   every storenode answers with who it is (formation, joins)
//	_LB.boot.<cluster>.<node>      the formation handshake addressed to one fresh node
//	_LB.heartbeat                  every storenode publishes its state once a second
//	_LB.removed.<cluster>.<node>   tells a node removed from the cluster that it was (RemovedNotice)
//	_LB.ping.<cluster>.<node>      answered at once (empty) by a live, running storenode
//	_LB.campaign.<cluster>.<node>  asks a storenode's replica of a leaderless store to stand for election now
const (
	prefix         = "_LB."
	leaderPrefix   = prefix + "leader."
	noticePrefix   = prefix + "newleader."
	metaPrefix     = prefix + "meta."
	metaReadPrefix = prefix + "metaread."

	// RegistryLookup answers whether a store exists (any storenode replies).
	RegistryLookup = prefix + "registry.lookup"
	// StorenodeQueue is the queue group storenodes use for subjects any one
	// of them may answer.
	StorenodeQueue = "logbook.storenode"
	// MetaWildcard is what the meta leader subscribes to.
	MetaWildcard = metaPrefix + "*"
	// MetaReadWildcard is what every storenode subscribes to, in StorenodeQueue.
	MetaReadWildcard = metaReadPrefix + "*"
	// Discover is where a storenode asks every other one who it is.
	Discover = prefix + "discover"
	// Heartbeat carries each storenode's periodic state.
	Heartbeat = prefix + "heartbeat"
	// StoreWake asks every storenode holding a dormant replica of the store
	// named by the body to start it (every storenode listens).
	StoreWake = prefix + "wake"
	// MetaJoin is the meta-leader operation that adds a storenode to the
	// cluster (subject Meta(MetaJoin)).
	MetaJoin = "join"
	// MetaMember is the meta-leader operation that tells a storenode
	// starting from its data whether it may run as a member (a JoinRequest,
	// answered with a JoinReply: Refused when its id was removed).
	MetaMember = "member"
)

// Leader returns the subject on which the leader of store serves op.
func Leader(store, op string) string { return leaderPrefix + store + "." + op }

// LeaderWildcard is what a storenode subscribes to for a store it leads.
func LeaderWildcard(store string) string { return leaderPrefix + store + ".*" }

// LeaderNotice is where a storenode announces that it now serves the
// leader subjects of store (an empty message, published after its
// subscription on the same connection, so that NATS has the subscription
// before anyone hears the notice). Gateways resend, at once, the requests
// for the store an earlier leader may have taken and not answered.
func LeaderNotice(store string) string { return noticePrefix + store }

// LeaderNoticeWildcard is what a gateway subscribes to for the notices.
const LeaderNoticeWildcard = noticePrefix + "*"

// ParseLeaderNotice returns the store of a notice subject.
func ParseLeaderNotice(subject string) (store string, ok bool) {
	store, ok = strings.CutPrefix(subject, noticePrefix)
	return store, ok && store != "" && !strings.Contains(store, ".")
}

// ParseLeader splits a leader subject into store and operation.
func ParseLeader(subject string) (store, op string, ok bool) {
	rest, found := strings.CutPrefix(subject, leaderPrefix)
	if !found {
		return "", "", false
	}
	store, op, found = strings.Cut(rest, ".")
	return store, op, found && store != "" && op != "" && !strings.Contains(op, ".")
}

// Meta returns the subject of a registry write (meta leader).
func Meta(op string) string { return metaPrefix + op }

// ParseMeta returns the operation of a Meta subject.
func ParseMeta(subject string) string { return strings.TrimPrefix(subject, metaPrefix) }

// MetaRead returns the subject of a registry or cluster read (any storenode).
func MetaRead(op string) string { return metaReadPrefix + op }

// ParseMetaRead returns the operation of a MetaRead subject.
func ParseMetaRead(subject string) string { return strings.TrimPrefix(subject, metaReadPrefix) }

// ClusterReadOp is the MetaRead operation behind the client's cluster.<op>.
func ClusterReadOp(op string) string { return "cluster_" + op }

// Owner returns an identity subject: Owner("_cluster") is where every
// storenode answers with its cluster's UID, so that two unrelated Logbooks on
// one NATS server never both serve.
func Owner(name string) string { return prefix + "owner." + name }

// Boot returns the subject on which a fresh storenode takes part in forming
// the cluster named cluster.
func Boot(cluster string, node uint64) string {
	return prefix + "boot." + cluster + "." + strconv.FormatUint(node, 10)
}

// Removed returns the subject on which a storenode hears that the cluster
// named cluster removed it (node is its id).
func Removed(cluster string, node uint64) string {
	return prefix + "removed." + cluster + "." + strconv.FormatUint(node, 10)
}

// Ping returns the subject a running storenode answers at once (with an
// empty message): whether it is alive now, not a second ago as its last
// heartbeat says. The leader balancer asks before it hands a leadership
// over, so that it never hands one to a node that just died or froze.
func Ping(cluster string, node uint64) string {
	return prefix + "ping." + cluster + "." + strconv.FormatUint(node, 10)
}

// Campaign returns the subject on which a storenode (node is its id) hears
// that its replica of a store with no leader should stand for election at
// once (the body: the store's shard id, in decimal). A store's replicas ask
// the one designated to lead first when they start together (a new store,
// a wake, a restart): see services/storenode/replica/campaign.go.
func Campaign(cluster string, node uint64) string {
	return prefix + "campaign." + cluster + "." + strconv.FormatUint(node, 10)
}

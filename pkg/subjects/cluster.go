package subjects

import "strconv"

// Cluster subjects.
//
// Client-facing (served by gateways, answered by any storenode):
//
//	cluster.view                nodes, their health, placement and leaders, drift
//	cluster.health              a summary: ok, warning or critical, with the problems
//	cluster.remove_node         take a storenode out for good (its replicas move first)
//
// Internal (storenode ↔ storenode):
//
//	_LB.discover                every storenode answers with who it is (formation, joins)
//	_LB.boot.<cluster>.<node>   the formation handshake addressed to one fresh node
//	_LB.heartbeat               every storenode publishes its state once a second
const (
	clusterPrefix = "cluster."
	// ClusterWildcard is what the gateway's cluster endpoint subscribes to.
	ClusterWildcard = "cluster.*"

	ClusterView       = "view"
	ClusterHealth     = "health"
	ClusterRemoveNode = "remove_node"

	// Discover is where a storenode asks every other one who it is.
	Discover = internalPrefix + "discover"
	// Heartbeat carries each storenode's periodic state.
	Heartbeat = internalPrefix + "heartbeat"

	// MetaJoin is the meta-leader operation that adds a storenode to the
	// cluster (subject Meta(MetaJoin)).
	MetaJoin = "join"
)

// ClusterOps lists the client-facing cluster operations.
var ClusterOps = []string{ClusterView, ClusterHealth, ClusterRemoveNode}

// IsClusterWrite reports whether a cluster operation changes the registry
// (served by the meta leader on Meta(op)).
func IsClusterWrite(op string) bool { return op == ClusterRemoveNode }

// Cluster returns the client-facing subject of a cluster operation.
func Cluster(op string) string { return clusterPrefix + op }

// ParseCluster returns the operation of a cluster.<op> subject.
func ParseCluster(subject string) (op string, ok bool) {
	if len(subject) <= len(clusterPrefix) || subject[:len(clusterPrefix)] != clusterPrefix {
		return "", false
	}
	op = subject[len(clusterPrefix):]
	for _, o := range ClusterOps {
		if o == op {
			return op, true
		}
	}
	return op, false
}

// Boot returns the subject on which a fresh storenode takes part in forming
// the cluster named cluster.
func Boot(cluster string, node uint64) string {
	return internalPrefix + "boot." + cluster + "." + strconv.FormatUint(node, 10)
}

// ClusterReadOp is the internal operation behind cluster.<op>: the gateway
// forwards it to MetaRead(ClusterReadOp(op)), which any storenode answers.
func ClusterReadOp(op string) string { return "cluster_" + op }

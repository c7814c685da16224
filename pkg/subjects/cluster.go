package subjects

// Cluster subjects.
//
// Client-facing (served by gateways, answered by any storenode):
//
//	cluster.view                nodes, their health, placement and leaders, drift
//	cluster.health              a summary: ok, warning or critical, with the problems
//	cluster.remove_node         take a storenode out for good (its replicas move first)
//	cluster.version             the cluster version; hold it back or let it rise (admin)
//
// The internal storenode ↔ storenode subjects live in internal/proto.
const (
	clusterPrefix = "cluster."
	// ClusterWildcard is what the gateway's cluster endpoint subscribes to.
	ClusterWildcard = "cluster.*"

	ClusterView       = "view"
	ClusterHealth     = "health"
	ClusterRemoveNode = "remove_node"
	ClusterVersion    = "version"
)

// ClusterOps lists the client-facing cluster operations.
var ClusterOps = []string{ClusterView, ClusterHealth, ClusterRemoveNode, ClusterVersion}

// IsClusterWrite reports whether a cluster operation may change the
// registry (served by the meta leader on Meta(op)).
func IsClusterWrite(op string) bool { return op == ClusterRemoveNode || op == ClusterVersion }

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

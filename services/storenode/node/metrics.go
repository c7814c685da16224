package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricsHandler serves the node's metrics in the Prometheus exposition
// format (/metrics on the storenode's -http address).
func (n *Node) MetricsHandler() http.Handler { return n.metrics.Handler() }

// MetricsRegistry is the registry the node's metrics are on (with the Go
// and process collectors): the embedded gateway registers its own there.
func (n *Node) MetricsRegistry() *prometheus.Registry { return n.metrics.Registry() }

// scrape is the collector of what is read at scrape time rather than
// counted on the hot path: the replicas here, their Raft role, term and
// applied index, and dragonboat's transport and snapshot events.
type scrape struct{ n *Node }

var (
	descStores    = prometheus.NewDesc("logbook_storenode_stores", "Store replicas running on this node.", nil, nil)
	descLed       = prometheus.NewDesc("logbook_storenode_stores_led", "Stores this node leads.", nil, nil)
	descConnFail  = prometheus.NewDesc("logbook_raft_connection_failures_total", "Raft transport connections to other storenodes that failed.", nil, nil)
	descSnapAbort = prometheus.NewDesc("logbook_raft_snapshot_send_aborts_total", "Raft snapshot transfers to followers that were aborted.", nil, nil)
	descSnapshots = prometheus.NewDesc("logbook_raft_snapshots_created_total", "Raft snapshots taken by the replicas on this node.", nil, nil)
	descLeader    = prometheus.NewDesc("logbook_store_raft_leader", "1 if this node leads the store, 0 if it follows.", []string{"store"}, nil)
	descTerm      = prometheus.NewDesc("logbook_store_raft_term", "The store's Raft term as this replica knows it.", []string{"store"}, nil)
	descApplied   = prometheus.NewDesc("logbook_store_applied_index", "The last Raft index this replica applied.", []string{"store"}, nil)
)

func (c scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStores, descLed, descConnFail, descSnapAbort, descSnapshots, descLeader, descTerm, descApplied} {
		ch <- d
	}
}

func (c scrape) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	replicas := n.replicas.List()
	led := 0
	for _, r := range replicas {
		leader, term, ok := n.host.LeaderTerm(r.Spec().ShardID)
		isLeader := ok && leader == n.cfg.NodeID
		if isLeader {
			led++
		}
		id := r.Spec().ID
		if !n.metrics.Named(id) {
			continue // beyond the limit: counted in the node's totals only
		}
		role := 0.0
		if isLeader {
			role = 1
		}
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, role, id)
		ch <- prometheus.MustNewConstMetric(descTerm, prometheus.GaugeValue, float64(term), id)
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(r.AppliedIndex()), id)
	}
	ch <- prometheus.MustNewConstMetric(descStores, prometheus.GaugeValue, float64(len(replicas)))
	ch <- prometheus.MustNewConstMetric(descLed, prometheus.GaugeValue, float64(led))
	ev := n.host.Events()
	ch <- prometheus.MustNewConstMetric(descConnFail, prometheus.CounterValue, float64(ev.ConnectionFailures))
	ch <- prometheus.MustNewConstMetric(descSnapAbort, prometheus.CounterValue, float64(ev.SnapshotSendAborts))
	ch <- prometheus.MustNewConstMetric(descSnapshots, prometheus.CounterValue, float64(ev.SnapshotsCreated))
}

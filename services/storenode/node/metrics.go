package node

import (
	"net/http"
	"strconv"

	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsHandler serves the node's metrics in the Prometheus exposition
// format (/metrics on the storenode's -http address).
func (n *Node) MetricsHandler() http.Handler { return n.metrics.Handler() }

// MetricsRegistry is the registry the node's metrics are on (with the Go
// and process collectors): the embedded gateway registers its own there.
func (n *Node) MetricsRegistry() *prometheus.Registry { return n.metrics.Registry() }

// scrape is the collector of what is read at scrape time rather than
// counted on the hot path: the replicas here, their Raft role, term,
// applied index, stored events and disk space; on the leader, how far the
// followers, live publication and persistent subscriptions trail; and
// dragonboat's transport and snapshot events.
type scrape struct{ n *Node }

var (
	descEngine    = prometheus.NewDesc("logbook_storenode_engine_disk_bytes", "Disk space of this node's storage engine, which holds every store replica here (table files and write-ahead log; the Raft log is apart).", nil, nil)
	descStores    = prometheus.NewDesc("logbook_storenode_stores", "Store replicas running on this node.", nil, nil)
	descDormant   = prometheus.NewDesc("logbook_storenode_stores_dormant", "Store replicas on this node stopped while their store is idle (dormant: started by the next request).", nil, nil)
	descWakes     = prometheus.NewDesc("logbook_storenode_store_wakes_total", "Dormant store replicas this node started again.", nil, nil)
	descLed       = prometheus.NewDesc("logbook_storenode_stores_led", "Stores this node leads.", nil, nil)
	descConnFail  = prometheus.NewDesc("logbook_raft_connection_failures_total", "Raft transport connections to other storenodes that failed.", nil, nil)
	descRefused   = prometheus.NewDesc("logbook_raft_connections_refused_total", "Raft transport connections from other hosts that were refused: no certificate from the cluster's CA (mutual TLS), or a malformed or oversized frame.", nil, nil)
	descSnapAbort = prometheus.NewDesc("logbook_raft_snapshot_send_aborts_total", "Raft snapshot transfers to followers that were aborted.", nil, nil)
	descSnapshots = prometheus.NewDesc("logbook_raft_snapshots_created_total", "Raft snapshots taken by the replicas on this node.", nil, nil)
	descSnapSent  = prometheus.NewDesc("logbook_raft_snapshots_sent_total", "Raft snapshots streamed to followers to the end (followers too far behind this leader's log).", nil, nil)
	descSnapRecv  = prometheus.NewDesc("logbook_raft_snapshots_received_total", "Raft snapshots the replicas on this node received from their leader.", nil, nil)
	descRecovered = prometheus.NewDesc("logbook_store_snapshots_recovered_total", "Store replicas on this node whose state was replaced by a Raft snapshot's, to the end (their range of the node's engine).", nil, nil)
	descLeader    = prometheus.NewDesc("logbook_store_raft_leader", "1 if this node leads the store, 0 if it follows.", []string{"store"}, nil)
	descTerm      = prometheus.NewDesc("logbook_store_raft_term", "The store's Raft term as this replica knows it.", []string{"store"}, nil)
	descApplied   = prometheus.NewDesc("logbook_store_applied_index", "The last Raft index this replica applied.", []string{"store"}, nil)
	descEvents    = prometheus.NewDesc("logbook_store_events", "Events the store holds (its next position), as this replica applied them.", []string{"store"}, nil)
	descBytes     = prometheus.NewDesc("logbook_store_event_bytes", "Bytes of the events the store holds, as its quota counts them (schemas/operations.md, quotas), as this replica applied them.", []string{"store"}, nil)
	descQuota     = prometheus.NewDesc("logbook_store_quota", "The store's quota as its state machine here enforces it, by kind (events, bytes); absent: no limit.", []string{"store", "kind"}, nil)
	descDisk      = prometheus.NewDesc("logbook_store_disk_bytes", "Disk space of this replica's state machine: an estimate of its key range in the node's engine table files, so 0 until its writes are flushed from memory (the whole engine: logbook_storenode_engine_disk_bytes).", []string{"store"}, nil)
	descLag       = prometheus.NewDesc("logbook_store_follower_lag_entries", "On the leader: how many Raft entries a follower's replica trails this one, from the follower's last heartbeat (up to a second old).", []string{"store", "follower"}, nil)
	descLive      = prometheus.NewDesc("logbook_store_live_lag_events", "On the leader: events applied but not yet published as live events.", []string{"store"}, nil)
	descPSubs     = prometheus.NewDesc("logbook_store_psubs", "On the leader: persistent subscriptions of the store.", []string{"store"}, nil)
	descPSubLag   = prometheus.NewDesc("logbook_store_psub_max_behind_positions", "On the leader: the largest distance, in positions, from a subscription's checkpoint to the store's head.", []string{"store"}, nil)
	descInFlight  = prometheus.NewDesc("logbook_store_psub_in_flight", "On the leader: events of the store's subscriptions delivered and not yet acked.", []string{"store"}, nil)
	descWaiting   = prometheus.NewDesc("logbook_store_psub_waiting", "On the leader: events of the store's subscriptions read and waiting for a consumer.", []string{"store"}, nil)
	descParked    = prometheus.NewDesc("logbook_store_psub_parked", "On the leader: parked events of the store's subscriptions.", []string{"store"}, nil)
)

func (c scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEngine, descStores, descDormant, descWakes, descLed, descConnFail, descRefused, descSnapAbort, descSnapshots, descSnapSent, descSnapRecv, descRecovered, descLeader, descTerm, descApplied,
		descEvents, descBytes, descQuota, descDisk, descLag, descLive, descPSubs, descPSubLag, descInFlight, descWaiting, descParked} {
		ch <- d
	}
}

func (c scrape) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	replicas := n.replicas.List()
	var peers map[string]map[uint64]uint64
	if cl := n.ctl.cluster; cl != nil {
		peers = cl.PeerApplied()
	}
	led := 0
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
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
		applied := r.AppliedIndex()
		events := r.Events()
		gauge(descLeader, role, id)
		gauge(descTerm, float64(term), id)
		gauge(descApplied, float64(applied), id)
		gauge(descEvents, float64(events), id)
		u := r.Usage()
		gauge(descBytes, float64(u.Bytes), id)
		if u.Quota.MaxEvents > 0 {
			gauge(descQuota, float64(u.Quota.MaxEvents), id, "events")
		}
		if u.Quota.MaxBytes > 0 {
			gauge(descQuota, float64(u.Quota.MaxBytes), id, "bytes")
		}
		gauge(descDisk, float64(r.DiskBytes()), id)
		if !isLeader {
			continue
		}
		for node, a := range peers[id] {
			gauge(descLag, float64(applied-min(a, applied)), id, nodeLabel(node))
		}
		if next, ok := r.LivePublished(); ok {
			gauge(descLive, float64(events-min(next, events)), id)
		}
		c.psubs(ch, r, id, events)
	}
	gauge(descStores, float64(len(replicas)))
	gauge(descDormant, float64(n.replicas.DormantCount()))
	ch <- prometheus.MustNewConstMetric(descWakes, prometheus.CounterValue, float64(n.replicas.Wakes()))
	gauge(descEngine, float64(n.engine.DiskBytes()))
	gauge(descLed, float64(led))
	ev := n.host.Events()
	ch <- prometheus.MustNewConstMetric(descConnFail, prometheus.CounterValue, float64(ev.ConnectionFailures))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(ev.ConnectionsRefused))
	ch <- prometheus.MustNewConstMetric(descSnapAbort, prometheus.CounterValue, float64(ev.SnapshotSendAborts))
	ch <- prometheus.MustNewConstMetric(descSnapshots, prometheus.CounterValue, float64(ev.SnapshotsCreated))
	ch <- prometheus.MustNewConstMetric(descSnapSent, prometheus.CounterValue, float64(ev.SnapshotsSent))
	ch <- prometheus.MustNewConstMetric(descSnapRecv, prometheus.CounterValue, float64(ev.SnapshotsReceived))
	ch <- prometheus.MustNewConstMetric(descRecovered, prometheus.CounterValue, float64(n.engine.SnapshotsRecovered()))
}

// psubs reports a led store's persistent subscriptions: their definitions
// as applied here (checkpoints, parked counts: exact, replicated) and the
// delivery's in-flight and waiting events.
func (c scrape) psubs(ch chan<- prometheus.Metric, r *replica.Replica, id string, head uint64) {
	defs, err := raft.As[[]*sm.PSub](r.StaleRead(sm.PSubList{}))
	if err != nil {
		return
	}
	var behind, parked uint64
	for _, d := range defs {
		behind = max(behind, head-min(d.Checkpoint, head))
		parked += d.Parked
	}
	ch <- prometheus.MustNewConstMetric(descPSubs, prometheus.GaugeValue, float64(len(defs)), id)
	ch <- prometheus.MustNewConstMetric(descPSubLag, prometheus.GaugeValue, float64(behind), id)
	ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, float64(parked), id)
	if inFlight, waiting, ok := c.n.deliveries.Counts(id); ok {
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(inFlight), id)
		ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(waiting), id)
	}
}

func nodeLabel(id uint64) string { return strconv.FormatUint(id, 10) }

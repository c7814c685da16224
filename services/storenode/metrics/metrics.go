// Package metrics holds the storenode's Prometheus metrics: per node, and
// per store with bounded cardinality. See DESIGN.md.
package metrics

import (
	"net/http"
	"sync"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the store label of the stores beyond the limit.
const Other = "_other"

// DefaultStoreLimit is how many stores get series of their own by default.
const DefaultStoreLimit = 100

// Metrics is one storenode's metrics, registered on a registry of its own
// (several storenodes may share a process: the embedded cluster, tests).
type Metrics struct {
	reg   *prometheus.Registry
	limit int

	appends, events, bytes, reads *prometheus.CounterVec
	errors                        *prometheus.CounterVec
	appendSeconds, batch          *prometheus.HistogramVec
	refused                       prometheus.Counter

	mu     sync.Mutex
	stores map[string]*Store // by store id, those with a label of their own
	other  *Store
}

// New returns the metrics of one storenode: stores beyond the first limit
// (0: DefaultStoreLimit; negative: none) share the store label "_other".
func New(limit int) *Metrics {
	if limit == 0 {
		limit = DefaultStoreLimit
	}
	m := &Metrics{reg: prometheus.NewRegistry(), limit: limit, stores: map[string]*Store{}}
	storeVec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "store", Name: name, Help: help}, []string{"store"})
	}
	m.appends = storeVec("appends_total", "Appends applied at this node as leader (duplicates included).")
	m.events = storeVec("events_written_total", "Events written by appends at this node as leader (duplicates not counted).")
	m.bytes = storeVec("bytes_written_total", "Request bytes of the appends written at this node as leader.")
	m.reads = storeVec("reads_total", "Reads (read, read_all) served at this node as leader.")
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "store", Name: "errors_total",
		Help: "Store operations answered with an error at this node as leader, by operation and error code (wrong_expected_revision: a conflict)."},
		[]string{"store", "op", "code"})
	m.appendSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "logbook", Subsystem: "store", Name: "append_seconds",
		Help:    "Append latency at the leader: from the proposal to its result (Raft commit and apply).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}}, []string{"store"})
	m.batch = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "logbook", Subsystem: "store", Name: "proposal_batch_commands",
		Help:    "Commands per Raft proposal (group commit), at this node as leader.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}, []string{"store"})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "storenode", Name: "requests_refused_as_follower_total",
		Help: "Store requests answered not_written because another node leads the store: this node was deposed while still subscribed (the gateway sends them again to the leader)."})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.appends, m.events, m.bytes, m.reads, m.errors, m.appendSeconds, m.batch, m.refused)
	m.other = m.resolve(Other)
	return m
}

// Registry is the registry the metrics are on: another part of the
// process (the embedded gateway) may add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Register adds a collector (read at scrape time) to the registry.
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Store returns the series of a store: its own while fewer than the limit
// have theirs, the shared "_other" ones beyond. Call once per replica and
// keep the result: the counters are resolved, the hot path looks nothing up.
func (m *Metrics) Store(id string) *Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.stores[id]; ok {
		return s
	}
	if len(m.stores) >= m.limit {
		return m.other
	}
	s := m.resolve(id)
	m.stores[id] = s
	return s
}

// Named reports whether a store has series of its own.
func (m *Metrics) Named(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.stores[id]
	return ok
}

// Forget deletes a removed store's series and frees its place for another
// store. Replicas still holding its Store keep counting into unexported
// series (harmless: they are stopping).
func (m *Metrics) Forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.stores[id]; !ok {
		return
	}
	delete(m.stores, id)
	l := prometheus.Labels{"store": id}
	for _, v := range []*prometheus.CounterVec{m.appends, m.events, m.bytes, m.reads} {
		v.Delete(l)
	}
	m.errors.DeletePartialMatch(l)
	m.appendSeconds.Delete(l)
	m.batch.Delete(l)
}

func (m *Metrics) resolve(label string) *Store {
	return &Store{
		label: label, errors: m.errors,
		Appends: m.appends.WithLabelValues(label), Events: m.events.WithLabelValues(label),
		Bytes: m.bytes.WithLabelValues(label), Reads: m.reads.WithLabelValues(label),
		AppendSeconds: m.appendSeconds.WithLabelValues(label), Batch: m.batch.WithLabelValues(label),
		RefusedAsFollower: m.refused,
	}
}

// Store is the resolved series of one store (or of "_other").
type Store struct {
	label  string
	errors *prometheus.CounterVec

	Appends, Events, Bytes, Reads prometheus.Counter
	AppendSeconds, Batch          prometheus.Observer
	// RefusedAsFollower is the node's count (not per store) of requests
	// refused because another node leads.
	RefusedAsFollower prometheus.Counter
}

// Label is the store label the series carry.
func (s *Store) Label() string { return s.label }

// Error counts an operation answered with err (by its code; internal when
// it has none). Errors are rare: the label lookup is paid only then.
func (s *Store) Error(op string, err error) {
	s.errors.WithLabelValues(s.label, op, codes.As(err).Code.Name()).Inc()
}

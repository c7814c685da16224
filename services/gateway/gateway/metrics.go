package gateway

import (
	"net/http"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opUnknown labels a request whose operation the gateway does not know:
// the label values stay the fixed set of operations.
const opUnknown = "unknown"

// metrics is a gateway's Prometheus metrics, on a registry of its own.
// The label values are bounded: the known operations (store operations by
// name, stores.<op>, cluster.<op>, or "unknown") and the error codes. The
// series of each operation's successes are resolved once, at start.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	leaderRetries prometheus.Counter
	resends       prometheus.Counter
	noticeResends prometheus.Counter
	badReply      prometheus.Counter
	local         prometheus.Counter
	ops           map[string]*opMetrics
}

type opMetrics struct {
	name    string
	ok      prometheus.Counter
	seconds prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{reg: reg, ops: map[string]*opMetrics{}}
	if reg == nil {
		m.reg = prometheus.NewRegistry()
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "requests_total",
		Help: "Client requests answered, by operation and code (ok, or the error code)."}, []string{"op", "code"})
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "logbook", Subsystem: "gateway", Name: "request_seconds",
		Help:    "Client request latency at the gateway, from arrival to answer, by operation.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10}}, []string{"op"})
	m.leaderRetries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "leader_retries_total",
		Help: "Requests sent again after no storenode served the subject, or one answered not_written (or, for a resendable request, an unknown outcome): an election, a restart, a leadership move."})
	m.resends = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "attempt_resends_total",
		Help: "Resendable requests (reads, appends) sent again because an attempt got no answer within the attempt timeout (a leader that died or froze with the request)."})
	m.noticeResends = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "new_leader_resends_total",
		Help: "Resendable requests sent again at once because a new leader of their store announced itself (the old one may have taken them and died or frozen)."})
	m.badReply = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "requests_dropped_bad_reply_total",
		Help: "Requests dropped unserved because their reply subject is not an inbox (_INBOX. or _INBOX_<name>.): answering would publish where the client may not."})
	m.local = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "logbook", Subsystem: "gateway", Name: "local_requests_total",
		Help: "Store requests served by the storenode of the gateway's own process, which led the store, without a NATS round trip (Config.Local)."})
	m.reg.MustRegister(m.requests, seconds, m.leaderRetries, m.resends, m.noticeResends, m.badReply, m.local)
	names := []string{opUnknown}
	names = append(names, wire.StoreOpNames()...)
	for op := range subjects.StoreRegistryReads {
		names = append(names, op)
	}
	for _, op := range subjects.StoresOps {
		names = append(names, "stores."+op)
	}
	for _, op := range subjects.ClusterOps {
		names = append(names, "cluster."+op)
	}
	for _, name := range names {
		m.ops[name] = &opMetrics{name: name, ok: m.requests.WithLabelValues(name, "ok"), seconds: seconds.WithLabelValues(name)}
	}
	return m
}

// op returns the resolved series of an operation ("unknown" if it is not one).
func (m *metrics) op(name string) *opMetrics {
	if o, ok := m.ops[name]; ok {
		return o
	}
	return m.ops[opUnknown]
}

// observe records one answered request; e is its error, nil if it succeeded.
func (m *metrics) observe(o *opMetrics, d time.Duration, e *codes.Error) {
	o.seconds.Observe(d.Seconds())
	if e == nil {
		o.ok.Inc()
		return
	}
	m.requests.WithLabelValues(o.name, e.Code.Name()).Inc()
}

// MetricsHandler serves the gateway's metrics in the Prometheus exposition
// format (/metrics on the -http address): its registry, with whatever else
// is registered there.
func (g *Gateway) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{})
}

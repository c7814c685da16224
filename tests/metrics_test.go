package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/nats.go/micro"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics and returns the metric families by name.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	return parseMetrics(t, resp.Body)
}

// scrapeHandler reads the metrics a handler serves (a storenode in the
// test process, without an HTTP listener).
func scrapeHandler(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return parseMetrics(t, rec.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("/metrics is not in the exposition format: %v", err)
	}
	return fams
}

// sample finds the series of a family with exactly these labels (nil if none).
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is a counter's or gauge's value, or a histogram's count (0 if absent).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := sample(fams, name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func histSum(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	if m := sample(fams, name, labels...); m != nil && m.Histogram != nil {
		return m.Histogram.GetSampleSum()
	}
	return 0
}

func storeStats(t *testing.T, in *instance) *micro.EndpointStats {
	t.Helper()
	msg, err := rawRequest(t, in, "$SRV.STATS.logbook", nil)
	if err != nil {
		t.Fatalf("$SRV.STATS: %v", err)
	}
	var st micro.Stats
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		t.Fatalf("$SRV.STATS reply %s: %v", msg.Data, err)
	}
	if st.Type != micro.StatsResponseType || st.Name != "logbook" {
		t.Fatalf("$SRV.STATS reply %s", msg.Data)
	}
	for _, e := range st.Endpoints {
		if e.Name == "store" {
			return e
		}
	}
	t.Fatalf("no store endpoint in %s", msg.Data)
	return nil
}

// Known traffic moves the counters and histograms by exactly its amounts:
// N appends of two events, one conflict, M reads; the conflict is counted
// with its code at the gateway, at the leader and in $SRV.STATS, whose
// processing time is the full request time (it covers the leader's).
func TestMetrics(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) { c.HTTPAddress = "127.0.0.1:0" })
	addr := in.lb.HTTPAddr()
	ctx, s := ctxT(t), in.Store
	const n, m = 5, 3
	st := "default"

	before := scrape(t, addr)
	stats0 := storeStats(t, in)
	for range n {
		if _, err := s.Append(ctx, "metrics-1", client.Any, ev("A", "x"), ev("B", "y")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Append(ctx, "metrics-1", client.Exact(0), ev("A", "stale"))
	wantCode(t, err, codes.WrongExpectedRevision)
	for range m {
		if _, err := s.Read(ctx, "metrics-1", client.ReadOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	after := scrape(t, addr)
	stats1 := storeStats(t, in)

	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"logbook_store_appends_total", []string{"store", st}, n},
		{"logbook_store_events_written_total", []string{"store", st}, 2 * n},
		{"logbook_store_append_seconds", []string{"store", st}, n + 1},
		{"logbook_store_proposal_batch_commands", []string{"store", st}, n + 1},
		{"logbook_store_errors_total", []string{"store", st, "op", "append", "code", "wrong_expected_revision"}, 1},
		{"logbook_store_reads_total", []string{"store", st}, m},
		{"logbook_gateway_requests_total", []string{"op", "append", "code", "ok"}, n},
		{"logbook_gateway_requests_total", []string{"op", "append", "code", "wrong_expected_revision"}, 1},
		{"logbook_gateway_requests_total", []string{"op", "read", "code", "ok"}, m},
		{"logbook_gateway_request_seconds", []string{"op", "append"}, n + 1},
		{"logbook_gateway_request_seconds", []string{"op", "read"}, m},
	} {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := delta("logbook_store_bytes_written_total", "store", st); got <= 0 {
		t.Errorf("bytes written moved by %v", got)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"logbook_store_raft_leader", []string{"store", st}, 1},
		{"logbook_storenode_stores", nil, 1},
		{"logbook_storenode_stores_led", nil, 1},
	} {
		if got := value(after, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if value(after, "logbook_store_applied_index", "store", st) < n {
		t.Errorf("applied index %v", value(after, "logbook_store_applied_index", "store", st))
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "logbook_gateway_leader_retries_total", "logbook_raft_connection_failures_total"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	// $SRV.STATS: every request counted, the conflict as an error.
	if got := stats1.NumRequests - stats0.NumRequests; got != n+1+m {
		t.Errorf("$SRV.STATS counted %d store requests, want %d", got, n+1+m)
	}
	if got := stats1.NumErrors - stats0.NumErrors; got != 1 || !strings.Contains(stats1.LastError, "wrong_expected_revision") {
		t.Errorf("$SRV.STATS: %d errors (last %q), want 1 wrong_expected_revision", got, stats1.LastError)
	}
	// The gateway's time includes the leader's: the proposal of every append.
	leader := time.Duration(histSum(after, "logbook_store_append_seconds", "store", st) * float64(time.Second))
	if stats1.ProcessingTime < leader {
		t.Errorf("$SRV.STATS processing time %v is less than the leader's append time %v: not the full request time", stats1.ProcessingTime, leader)
	}
}

// The store's state as gauges: events stored, disk space, live publication
// caught up, and a persistent subscription's checkpoint distance, in-flight
// and parked events, after known traffic.
func TestMetricsStoreState(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) { c.HTTPAddress = "127.0.0.1:0" })
	addr := in.lb.HTTPAddr()
	ctx, s := ctxT(t), in.Store
	const st = "default"
	evs := make([]client.Event, 7)
	for i := range evs {
		evs[i] = ev("E", fmt.Sprint(i))
	}
	if _, err := s.Append(ctx, "state-1", client.NoStream, evs...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSubscription(ctx, "all", client.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	// One consumer parks position 0, acks 1–3 and leaves 4–6 in flight.
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.Consume(cctx, "all", func(ctx context.Context, m *client.Message) {
		switch p := m.Event.Position; {
		case p == 0:
			m.Nack(ctx, client.Park, 0)
		case p <= 3:
			m.Ack(ctx)
		}
	}, client.ConsumeOptions{Consumer: "c1"})

	want := map[string]float64{
		"logbook_store_events":                    7,
		"logbook_store_live_lag_events":           0,
		"logbook_store_psubs":                     1,
		"logbook_store_psub_parked":               1,
		"logbook_store_psub_in_flight":            3,
		"logbook_store_psub_waiting":              0,
		"logbook_store_psub_max_behind_positions": 3, // checkpoint 4, head 7
	}
	eventually(t, 15*time.Second, func() error {
		fams := scrape(t, addr)
		for name, w := range want {
			if sample(fams, name, "store", st) == nil {
				return fmt.Errorf("no %s", name)
			}
			if got := value(fams, name, "store", st); got != w {
				return fmt.Errorf("%s = %v, want %v", name, got, w)
			}
		}
		// The store's own disk figure counts flushed table files only (a
		// few events stay in the shared engine's memtable, so it may be 0);
		// the engine's counts its write-ahead log too.
		if sample(fams, "logbook_store_disk_bytes", "store", st) == nil {
			return fmt.Errorf("no logbook_store_disk_bytes")
		}
		if d := value(fams, "logbook_storenode_engine_disk_bytes"); d <= 0 {
			return fmt.Errorf("engine disk bytes %v", d)
		}
		if b := value(fams, "logbook_store_event_bytes", "store", st); b <= 0 {
			return fmt.Errorf("event bytes %v", b)
		}
		return nil
	})
}

// On a store's leader, each follower's lag: present for both followers of
// an R3 store, and back to 0 once they have applied what was written.
func TestMetricsFollowerLag(t *testing.T) {
	c := startMemCluster(t, 3)
	ctx := ctxT(t)
	for i := range 20 {
		if _, err := c.Client.Store("default").Append(ctx, "lag", client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "default")
		if err != nil || s.Leader == 0 {
			return fmt.Errorf("no leader: %+v %v", s, err)
		}
		fams := scrapeHandler(t, c.node(s.Leader).n.MetricsHandler())
		for id := uint64(1); id <= 3; id++ {
			if id == s.Leader {
				continue
			}
			m := sample(fams, "logbook_store_follower_lag_entries", "store", "default", "follower", fmt.Sprint(id))
			if m == nil {
				return fmt.Errorf("no lag series for follower %d", id)
			}
			if v := m.GetGauge().GetValue(); v != 0 {
				return fmt.Errorf("follower %d lags %v entries", id, v)
			}
		}
		if value(fams, "logbook_store_events", "store", "default") != 20 {
			return fmt.Errorf("events %v", value(fams, "logbook_store_events", "store", "default"))
		}
		return nil
	})
}

// Every metric the operations guide documents is exported (after traffic
// that touches each: appends, a conflict, reads, a persistent
// subscription), and every metric the Grafana dashboard in deploy/ queries
// is documented: neither may name a metric that does not exist.
func TestMetricsDocumentedAndDashboard(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:logbook|process|go)_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 20 {
		t.Fatalf("only %d metrics documented in docs/operations.md", len(documented))
	}

	in := startLogbook(t, func(c *embed.Config) { c.HTTPAddress = "127.0.0.1:0" })
	ctx, s := ctxT(t), in.Store
	if _, err := s.Append(ctx, "doc-1", client.NoStream, ev("A", "x")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Append(ctx, "doc-1", client.NoStream, ev("A", "y"))
	wantCode(t, err, codes.WrongExpectedRevision)
	if _, err := s.Read(ctx, "doc-1", client.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSubscription(ctx, "doc", client.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	// logbook_store_quota exists for a store with a quota.
	if _, err := in.Client.Stores().SetQuota(ctx, "default", i64(1<<30), nil); err != nil {
		t.Fatal(err)
	}
	// Only a cluster has followers: TestMetricsFollowerLag checks that one.
	clusterOnly := map[string]bool{"logbook_store_follower_lag_entries": true}
	eventually(t, 10*time.Second, func() error {
		fams := scrape(t, in.lb.HTTPAddr())
		for name := range documented {
			if fams[name] == nil && !clusterOnly[name] {
				return fmt.Errorf("%s is documented but not exported", name)
			}
		}
		return nil
	})

	dash, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "logbook-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	queried := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range regexp.MustCompile(`\b(?:logbook|process)_[a-z_]+`).FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !documented[base] && !strings.HasPrefix(base, "process_") {
					t.Errorf("panel %q queries %s, which docs/operations.md does not document", p.Title, name)
				}
				queried++
			}
		}
	}
	if queried < 20 {
		t.Fatalf("the dashboard queries only %d metrics", queried)
	}
}

package tests

import (
	"encoding/json"
	"net/http"
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
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
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

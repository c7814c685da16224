package metrics

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The first limit stores get series of their own; the others share
// "_other"; a forgotten store frees its place and its series go.
func TestStoreSeriesAreBoundedByTheLimit(t *testing.T) {
	m := New(2)
	a, b, c := m.Store("a"), m.Store("b"), m.Store("c")
	if a.Label() != "a" || b.Label() != "b" || c.Label() != Other {
		t.Fatalf("labels %q %q %q", a.Label(), b.Label(), c.Label())
	}
	if m.Store("a") != a || !m.Named("a") || m.Named("c") {
		t.Fatal("a store's series are not resolved once")
	}
	a.Appends.Inc()
	c.Appends.Inc()
	m.Store("d").Appends.Inc() // beyond the limit too: adds up under _other
	if got := testutil.ToFloat64(m.appends.WithLabelValues(Other)); got != 2 {
		t.Fatalf("_other appends %v, want 2", got)
	}
	a.Error("append", codes.New(codes.WrongExpectedRevision, "x"))
	a.Error("read", errors.New("not a Logbook error"))
	if got := testutil.ToFloat64(m.errors.WithLabelValues("a", "append", "wrong_expected_revision")); got != 1 {
		t.Fatalf("conflicts %v", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("a", "read", "internal")); got != 1 {
		t.Fatalf("internal errors %v", got)
	}
	m.Forget("a")
	if m.Named("a") || m.Store("e").Label() != "e" {
		t.Fatal("a forgotten store does not free its place")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, `store="a"`) || !strings.Contains(body, `logbook_store_appends_total{store="_other"} 2`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("exposition:\n%s", body)
	}
	if New(-1).Store("a").Label() != Other {
		t.Fatal("a negative limit gives stores series of their own")
	}
}

// What an append adds on the leader's path: two clock reads, one histogram
// observation, three counter adds, and one observation per proposal.
func BenchmarkAppendMetrics(b *testing.B) {
	s := New(0).Store("s")
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		s.Batch.Observe(1)
		s.AppendSeconds.Observe(time.Since(start).Seconds())
		s.Appends.Inc()
		s.Events.Add(2)
		s.Bytes.Add(200)
	}
}

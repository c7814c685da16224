package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// A gateway in a storenode's process (as in the embedded Logbook) serves the
// requests of the stores that node leads in the process, and sends the
// others through NATS to their leaders: the answers are the same either way,
// errors included; once the node stops, its stores go through NATS.
func TestGatewayServesLedStoresInProcess(t *testing.T) {
	c := newMemCluster(t)
	for id := uint64(1); id <= 3; id++ {
		c.start(c.nodeConfig(id, 3))
	}
	c.waitReady()
	local := c.node(1)
	gwConn, err := nats.Connect(c.url) // its own: node 1 stops below, the gateway does not
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gwConn.Close)
	reg := prometheus.NewRegistry()
	gw, err := gateway.Start(gateway.Config{NATS: gwConn, Local: local.n, Metrics: reg, Logger: testLogger(), RequestTimeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Stop() })
	c.gw = gw
	if c.Client, err = client.Connect(c.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Client.Close)
	ctx := ctxT(t)

	// Stores until one is led by node 1 and one by another node (first
	// leaders are spread over the nodes by shard).
	var here, there string
	for i := 0; i < 12 && (here == "" || there == ""); i++ {
		id := fmt.Sprintf("s%d", i)
		if _, err := c.Client.Stores().Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		switch s := ledInView(t, c, id); {
		case s.Leader == 1 && here == "":
			here = id
		case s.Leader != 1 && there == "":
			there = id
		}
	}
	if here == "" || there == "" {
		t.Fatalf("no store led by node 1 (%q) or by another node (%q)", here, there)
	}

	served := func() float64 { return counter(t, reg, "logbook_gateway_local_requests_total") }
	for _, tc := range []struct {
		store string
		local bool
	}{{here, true}, {there, false}} {
		before := served()
		st := c.Client.Store(tc.store)
		for i := 0; i < 3; i++ {
			expected := client.NoStream
			if i > 0 {
				expected = client.Exact(uint64(i - 1))
			}
			r, err := st.Append(ctx, "orders", expected, ev("Placed", fmt.Sprint(i)))
			if err != nil {
				t.Fatalf("%s: append %d: %v", tc.store, i, err)
			}
			if r.LastRevision != uint64(i) {
				t.Fatalf("%s: append %d at revision %d", tc.store, i, r.LastRevision)
			}
		}
		_, err := st.Append(ctx, "orders", client.Exact(0), ev("Placed", "late"))
		if e := wantCode(t, err, codes.WrongExpectedRevision); e.CurrentRevision == nil || *e.CurrentRevision != 2 {
			t.Fatalf("%s: wrong_expected_revision without the current revision 2: %+v", tc.store, e)
		}
		got := readStream(t, ctx, st, "orders")
		if len(got) != 3 {
			t.Fatalf("%s: read %d events, want 3", tc.store, len(got))
		}
		for i, e := range got {
			if string(e.Data) != fmt.Sprint(i) || e.Revision != uint64(i) {
				t.Fatalf("%s: event %d is %q at revision %d", tc.store, i, e.Data, e.Revision)
			}
		}
		// 3 appends, the refused one and the read.
		if n := served() - before; tc.local && n < 5 || !tc.local && n != 0 {
			t.Fatalf("%s (led by node 1: %v): %v requests served in the gateway's process", tc.store, tc.local, n)
		}
	}

	// Node 1 stops: the store it led is served by its new leader, through
	// NATS, and nothing is served in the process any more.
	before := served()
	c.stop(1)
	st := c.Client.Store(here)
	if _, err := st.Append(ctx, "orders", client.Exact(2), ev("Placed", "3")); err != nil {
		t.Fatalf("%s: append after its leader stopped: %v", here, err)
	}
	if got := readStream(t, ctx, st, "orders"); len(got) != 4 || string(got[3].Data) != "3" {
		t.Fatalf("%s: after its leader stopped, read %d events", here, len(got))
	}
	if n := served() - before; n != 0 {
		t.Fatalf("%v requests served in the process of a stopped node", n)
	}
}

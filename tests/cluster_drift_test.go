package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// The four configuration scenarios of seed 000, each on a three-node
// cluster whose nodes were started with different settings: drift is
// reported in the cluster view and health, never silently split.

// driftOf waits for the view to report drift of kind (about subject, if
// set) and returns it.
func driftOf(t *testing.T, c *memCluster, kind, subject string) wire.Drift {
	t.Helper()
	var found wire.Drift
	eventually(t, 10*time.Second, func() error {
		v := c.view(ctxT(t))
		for _, d := range v.Drift {
			if d.Kind == kind && (subject == "" || d.Subject == subject) {
				found = d
				return nil
			}
		}
		return fmt.Errorf("no %s drift in %+v", kind, v.Drift)
	})
	return found
}

func valueOf(d wire.Drift, node uint64) string {
	for _, v := range d.Values {
		if v.Node == node {
			return v.Value
		}
	}
	return "<missing>"
}

// healthMentions waits for health to settle on a warning that mentions
// text: drift shows in the view as soon as the nodes report their
// configuration, which can be before every replica runs and leads (health
// is critical until then).
func healthMentions(t *testing.T, c *memCluster, text string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		h, err := c.Client.Health(ctxT(t))
		if err != nil || h.Status != wire.HealthWarning || !strings.Contains(strings.Join(h.Problems, "\n"), text) {
			return fmt.Errorf("health %+v %v, want a warning mentioning %q", h, err, text)
		}
		return nil
	})
}

// Scenario 1: store id mismatch. One registry means no isolated clusters:
// both default stores exist, replicated on all three nodes, and the
// disagreement is reported.
func TestDriftStoreIDMismatch(t *testing.T) {
	c := startMemCluster(t, 3, func(cfg *node.Config) {
		cfg.DefaultStore = "store-a"
		if cfg.NodeID == 2 {
			cfg.DefaultStore = "store-b"
		}
	})
	d := driftOf(t, c, "default_store", "")
	if valueOf(d, 1) != "store-a" || valueOf(d, 2) != "store-b" || valueOf(d, 3) != "store-a" {
		t.Fatalf("drift %+v", d)
	}
	healthMentions(t, c, "default_store")
	v := c.view(ctxT(t))
	for _, id := range []string{"store-a", "store-b"} {
		s, err := storeOf(v, id)
		if err != nil || !slices.Equal(s.Replicas, []uint64{1, 2, 3}) {
			t.Fatalf("store %s: %+v %v", id, s, err)
		}
	}
}

// Scenario 2: partial store overlap. The store only one node declares is
// created (in the one registry, on three replicas) and the nodes that do not
// declare it are listed.
func TestDriftPartialStoreOverlap(t *testing.T) {
	c := startMemCluster(t, 3, func(cfg *node.Config) {
		cfg.StaticStores = []node.StaticStore{{ID: "events"}}
		if cfg.NodeID == 1 {
			cfg.StaticStores = append(cfg.StaticStores, node.StaticStore{ID: "snapshots"})
		}
	})
	d := driftOf(t, c, "static_store", "snapshots")
	if !strings.HasPrefix(valueOf(d, 1), "declared") || valueOf(d, 2) != "not declared" || valueOf(d, 3) != "not declared" {
		t.Fatalf("drift %+v", d)
	}
	v := c.view(ctxT(t))
	for _, dd := range v.Drift {
		if dd.Subject == "events" {
			t.Fatalf("events is declared alike everywhere, yet reported: %+v", dd)
		}
	}
	if s, err := storeOf(v, "snapshots"); err != nil || len(s.Replicas) != 3 {
		t.Fatalf("snapshots: %+v %v", s, err)
	}
	healthMentions(t, c, "snapshots")
}

// Scenario 3: different data directories are how a cluster is meant to
// run: no drift, health ok, and the view shows each node's directory.
func TestDriftDifferentDataDirsIsFine(t *testing.T) {
	c := startMemCluster(t, 3)
	eventually(t, 10*time.Second, func() error {
		h, err := c.Client.Health(ctxT(t))
		if err != nil || h.Status != wire.HealthOK {
			return fmt.Errorf("health %+v %v", h, err)
		}
		return nil
	})
	v := c.view(ctxT(t))
	dirs := map[string]bool{}
	for _, nd := range v.Nodes {
		dirs[nd.DataDir] = true
	}
	if len(v.Drift) != 0 || len(dirs) != 3 {
		t.Fatalf("drift %+v, dirs %v", v.Drift, dirs)
	}
}

// Scenario 4: timeout mismatch. The nodes join and serve; the difference
// is listed per node.
func TestDriftTimeoutMismatch(t *testing.T) {
	c := startMemCluster(t, 3, func(cfg *node.Config) {
		cfg.RequestTimeout = 5 * time.Second
		if cfg.NodeID == 3 {
			cfg.RequestTimeout = 15 * time.Second
		}
	})
	d := driftOf(t, c, "request_timeout", "")
	if valueOf(d, 1) != "5000ms" || valueOf(d, 3) != "15000ms" {
		t.Fatalf("drift %+v", d)
	}
	healthMentions(t, c, "request_timeout")
	if _, err := c.Client.Store("default").Append(ctxT(t), "s", client.Any, ev("E", "")); err != nil {
		t.Fatal(err)
	}
}

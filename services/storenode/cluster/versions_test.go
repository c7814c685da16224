package cluster

import (
	"context"
	"testing"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Each node's versions travel in its heartbeat to the view: this node's
// own, another node's as it sent them, and none for a node that sends none
// (an older storenode).
func TestViewReportsVersions(t *testing.T) {
	c, _ := testCluster(t)
	c.cfg.Version = "v1.0.0"
	c.cfg.Versions = Versions{StoreCommand: 1, MetaCommand: 1, DataFormat: 1}
	hb := proto.NodeHeartbeat{Cluster: "test", NodeID: 2, RaftAddress: "a2", Version: "v2.0.0",
		StoreCommandVersion: 3, MetaCommandVersion: 2, DataFormat: 4}
	b, _ := wire.Marshal(hb)
	c.onHeartbeat(&nats.Msg{Data: b})
	heartbeat(c, 3) // an older storenode: no versions
	v, err := c.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type versions struct {
		bin               string
		store, meta, data uint32
	}
	want := map[uint64]versions{1: {"v1.0.0", 1, 1, 1}, 2: {"v2.0.0", 3, 2, 4}, 3: {}}
	for _, n := range v.Nodes {
		if got := (versions{n.Version, n.StoreCommandVersion, n.MetaCommandVersion, n.DataFormat}); got != want[n.ID] {
			t.Errorf("node %d versions %+v, want %+v", n.ID, got, want[n.ID])
		}
	}
}

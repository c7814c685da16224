package cluster

import (
	"testing"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
)

func settingsOf(timeoutMs int64, static ...proto.StaticStore) proto.NodeSettings {
	return proto.NodeSettings{DefaultStore: "default", RequestTimeoutMs: timeoutMs, Limits: wire.Limits{}.WithDefaults(),
		MaxStores: 10, InitialSize: 3, StaticStores: static}
}

func TestSettingsDrift(t *testing.T) {
	one := int64(1)
	orders := proto.StaticStore{ID: "orders"}
	ordersRF1 := proto.StaticStore{ID: "orders", Settings: wire.StoreSettings{ReplicationFactor: &one}}

	if d := settingsDrift([]uint64{1, 2}, []proto.NodeSettings{settingsOf(5000, orders), settingsOf(5000, orders)}); len(d) != 0 || d == nil {
		t.Fatalf("alike nodes drift: %#v", d)
	}
	d := settingsDrift([]uint64{1, 2, 3}, []proto.NodeSettings{settingsOf(5000, orders), settingsOf(4000, ordersRF1), settingsOf(5000)})
	if len(d) != 2 {
		t.Fatalf("drift %+v, want the timeout and the static store", d)
	}
	if d[0].Kind != "request_timeout" || d[0].Values[1] != (wire.DriftValue{Node: 2, Value: "4000ms"}) {
		t.Errorf("timeout drift %+v", d[0])
	}
	want := []string{"declared with defaults", "declared with replication_factor=1", "not declared"}
	if d[1].Kind != "static_store" || d[1].Subject != "orders" || len(d[1].Values) != 3 {
		t.Fatalf("static store drift %+v", d[1])
	}
	for i, v := range d[1].Values {
		if v.Node != uint64(i+1) || v.Value != want[i] {
			t.Errorf("value %d: %+v, want %q", i, v, want[i])
		}
	}
}

func TestForeignNodesAreForgotten(t *testing.T) {
	var f Foreign
	f.Note("other", 7, "x:1")
	f.Note("other", 3, "y:1")
	f.Note("other", 7, "x:1") // the same node again
	now := time.Now()
	got := f.recent(now)
	if len(got) != 2 || got[0].NodeID != 3 || got[1].NodeID != 7 {
		t.Fatalf("recent %+v", got)
	}
	if got := f.recent(now.Add(foreignMemory + time.Second)); len(got) != 0 {
		t.Fatalf("remembered after %v: %+v", foreignMemory, got)
	}
	if got := f.recent(now); len(got) != 0 {
		t.Fatalf("forgotten nodes came back: %+v", got)
	}
}

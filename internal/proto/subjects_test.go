package proto

import "testing"

func TestLeaderSubjectsRoundTrip(t *testing.T) {
	store, op, ok := ParseLeader(Leader("orders", "append"))
	if !ok || store != "orders" || op != "append" {
		t.Fatalf("%q %q %v", store, op, ok)
	}
	for _, bad := range []string{"_LB.leader.orders", "_LB.leader..append", "_LB.leader.orders.a.b", "store.orders.append"} {
		if _, _, ok := ParseLeader(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := ParseMeta(Meta("create")); got != "create" {
		t.Errorf("meta op %q", got)
	}
	if got := ParseMetaRead(MetaRead(ClusterReadOp("view"))); got != "cluster_view" {
		t.Errorf("metaread op %q", got)
	}
}

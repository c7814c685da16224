package cluster

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
)

// drift compares the settings the live nodes report, and reports the
// storenodes of other clusters seen lately. Different data directories are
// expected and never drift.
func (c *Cluster) drift(peers map[uint64]peer, now time.Time) []wire.Drift {
	var ids []uint64
	for id, p := range peers {
		if c.peerUp(p, now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	settings := make([]proto.NodeSettings, len(ids))
	for i, id := range ids {
		settings[i] = peers[id].hb.Settings
	}
	out := settingsDrift(ids, settings)
	for _, f := range c.cfg.Foreign.recent(now) {
		out = append(out, wire.Drift{Kind: "cluster_name", Subject: f.Cluster,
			Detail: fmt.Sprintf("storenode %d at %s (cluster %q) was refused %s ago: one NATS carries one cluster", f.NodeID, f.RaftAddress, f.Cluster, now.Sub(f.Seen).Round(time.Second)),
			Values: []wire.DriftValue{{Node: c.cfg.NodeID, Value: c.cfg.ClusterName}, {Node: f.NodeID, Value: f.Cluster}}})
	}
	return out
}

// settingsDrift compares the settings of the nodes ids (settings[i] is the
// settings of ids[i]): one Drift for every setting on which they differ.
func settingsDrift(ids []uint64, settings []proto.NodeSettings) []wire.Drift {
	out := []wire.Drift{}
	compare := func(kind, subject, what string, value func(s proto.NodeSettings) string) {
		var vals []wire.DriftValue
		distinct := map[string]bool{}
		for i, id := range ids {
			val := value(settings[i])
			vals = append(vals, wire.DriftValue{Node: id, Value: val})
			distinct[val] = true
		}
		if len(distinct) > 1 {
			out = append(out, wire.Drift{Kind: kind, Subject: subject, Detail: what + " differs between storenodes", Values: vals})
		}
	}
	compare("default_store", "", "the default store (-store)", func(s proto.NodeSettings) string { return s.DefaultStore })
	compare("request_timeout", "", "the request timeout", func(s proto.NodeSettings) string { return fmt.Sprintf("%dms", s.RequestTimeoutMs) })
	compare("limits", "", "the request limits", func(s proto.NodeSettings) string {
		l := s.Limits
		return fmt.Sprintf("max_event_size=%d max_append_events=%d max_request_size=%d max_read_count=%d max_reply_size=%d",
			l.MaxEventSize, l.MaxAppendEvents, l.MaxRequestSize, l.MaxReadCount, l.MaxReplySize)
	})
	compare("max_stores", "", "the store limit (-max-stores)", func(s proto.NodeSettings) string { return fmt.Sprint(s.MaxStores) })
	compare("initial_size", "", "the initial cluster size", func(s proto.NodeSettings) string { return fmt.Sprint(s.InitialSize) })
	// Static stores: every live node should declare the same set, alike.
	declared := map[string]bool{}
	for _, s := range settings {
		for _, st := range s.StaticStores {
			declared[st.ID] = true
		}
	}
	for _, store := range slices.Sorted(maps.Keys(declared)) {
		compare("static_store", store, "the configured store "+store, func(s proto.NodeSettings) string {
			for _, st := range s.StaticStores {
				if st.ID == store {
					return "declared " + describeSettings(st.Settings)
				}
			}
			return "not declared"
		})
	}
	return out
}

func describeSettings(s wire.StoreSettings) string {
	var parts []string
	add := func(name string, v *int64) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s=%d", name, *v))
		}
	}
	add("replication_factor", s.ReplicationFactor)
	add("request_timeout_ms", s.RequestTimeoutMs)
	add("max_event_size", s.MaxEventSize)
	add("max_append_events", s.MaxAppendEvents)
	add("max_read_count", s.MaxReadCount)
	if len(parts) == 0 {
		return "with defaults"
	}
	return "with " + strings.Join(parts, " ")
}

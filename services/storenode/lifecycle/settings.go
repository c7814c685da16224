package lifecycle

import (
	"math"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/replica"
)

// Ranges of per-store settings.
const (
	maxReplicationFactor = 7
	minRequestTimeout    = 100 * time.Millisecond
)

// resolveSettings fills a create request's settings from this node's
// defaults and checks their ranges. nodes is the number of storenodes.
func (l *Lifecycle) resolveSettings(in *wire.StoreSettings, nodes int) (meta.Settings, error) {
	lim := l.cfg.Limits
	out := meta.Settings{
		ReplicationFactor: int64(min(3, max(nodes, 1))),
		RequestTimeoutMs:  l.cfg.RequestTimeout.Milliseconds(),
		MaxEventSize:      int64(lim.MaxEventSize),
		MaxAppendEvents:   int64(lim.MaxAppendEvents),
		MaxReadCount:      int64(lim.MaxReadCount),
	}
	if in == nil {
		return out, nil
	}
	check := func(name string, v *int64, lo, hi int64, dst *int64) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return codes.New(codes.InvalidSettings, "%s %d is out of range %d..%d", name, *v, lo, hi)
		}
		*dst = *v
		return nil
	}
	for _, c := range []struct {
		name   string
		v      *int64
		lo, hi int64
		dst    *int64
	}{
		// A store's limits and timeout may be lower than the cluster's, never
		// higher: gateways enforce the cluster's as ceilings.
		{"replication_factor", in.ReplicationFactor, 1, maxReplicationFactor, &out.ReplicationFactor},
		{"request_timeout_ms", in.RequestTimeoutMs, minRequestTimeout.Milliseconds(), l.cfg.RequestTimeout.Milliseconds(), &out.RequestTimeoutMs},
		{"max_event_size", in.MaxEventSize, 1, int64(lim.MaxEventSize), &out.MaxEventSize},
		{"max_append_events", in.MaxAppendEvents, 1, int64(lim.MaxAppendEvents), &out.MaxAppendEvents},
		{"max_read_count", in.MaxReadCount, 1, int64(lim.MaxReadCount), &out.MaxReadCount},
		// The quota: 0 is no limit.
		{"max_events", in.MaxEvents, 0, math.MaxInt64, &out.MaxEvents},
		{"max_bytes", in.MaxBytes, 0, math.MaxInt64, &out.MaxBytes},
	} {
		if err := check(c.name, c.v, c.lo, c.hi, c.dst); err != nil {
			return out, err
		}
	}
	return out, nil
}

// specOf turns a registry entry into what a local replica runs with.
func (l *Lifecycle) specOf(s *meta.Store) replica.Spec {
	lim := l.cfg.Limits
	lim.MaxEventSize = int(s.Settings.MaxEventSize)
	lim.MaxAppendEvents = int(s.Settings.MaxAppendEvents)
	lim.MaxReadCount = int(s.Settings.MaxReadCount)
	return replica.Spec{
		ID: s.ID, ShardID: s.ShardID, Limits: lim.WithDefaults(),
		Timeout:  time.Duration(s.Settings.RequestTimeoutMs) * time.Millisecond,
		Replicas: s.Replicas, HasQuota: s.Settings.HasQuota(),
	}
}

// toConfig and toStatus turn a registry entry into wire types.
func toConfig(s *meta.Store) wire.StoreConfig {
	return wire.StoreConfig{
		Store: s.ID, ShardID: s.ShardID, ReplicationFactor: s.Settings.ReplicationFactor,
		RequestTimeoutMs: s.Settings.RequestTimeoutMs, MaxEventSize: s.Settings.MaxEventSize,
		MaxAppendEvents: s.Settings.MaxAppendEvents, MaxReadCount: s.Settings.MaxReadCount,
		MaxEvents: s.Settings.MaxEvents, MaxBytes: s.Settings.MaxBytes,
		Origin: s.Origin, Created: s.Created,
	}
}

func (l *Lifecycle) toStatus(s *meta.Store) wire.StoreStatus {
	st := wire.StoreStatus{
		Store: s.ID, Status: s.Status, Replicas: append([]uint64{}, s.Replicas...),
		Created: s.Created, Updated: s.Updated,
	}
	if leader, ok := l.cfg.Raft.Leader(s.ShardID); ok {
		st.Leader = leader
	}
	l.mu.Lock()
	st.ConfigMismatch = l.mismatch[s.ID]
	l.mu.Unlock()
	if l.cfg.Usage != nil {
		if u, ok := l.cfg.Usage(s.ID); ok {
			st.Usage = &wire.StoreUsage{Events: u.Events, Bytes: u.Bytes, MaxEvents: u.Quota.MaxEvents, MaxBytes: u.Quota.MaxBytes}
		}
	}
	return st
}

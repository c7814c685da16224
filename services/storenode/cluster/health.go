package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// Health sums the cluster view up.
func (c *Cluster) Health(ctx context.Context) (*wire.ClusterHealth, error) {
	v, err := c.View(ctx)
	if err != nil {
		return nil, err
	}
	h := &wire.ClusterHealth{Status: wire.HealthOK, Problems: []string{}, AnsweredBy: v.AnsweredBy, Time: v.Time}
	raise := func(level, format string, args ...any) {
		h.Problems = append(h.Problems, fmt.Sprintf(format, args...))
		if level == wire.HealthCritical || h.Status == wire.HealthOK {
			h.Status = level
		}
	}
	if v.MetaLeader == 0 {
		raise(wire.HealthCritical, "the registry (meta shard) has no leader: stores cannot be created or removed")
	}
	for _, nd := range v.Nodes {
		if nd.Health != wire.NodeUp {
			raise(wire.HealthWarning, "storenode %d (%s) is down: no heartbeat for %s", nd.ID, nd.RaftAddress, lastSeen(nd.LastSeenMs))
		}
	}
	for _, s := range v.Stores {
		if s.Status == meta.StatusRemoving {
			continue // its replicas are going away
		}
		switch s.Health {
		case wire.StoreUnavailable:
			raise(wire.HealthCritical, "store %s has no leader: its requests fail (%d of %d replicas running%s)", s.Store, s.ReplicasUp, len(s.Replicas), notRunning(s))
		case wire.StoreUnderReplicated:
			raise(wire.HealthWarning, "store %s has %d of %d replicas running%s", s.Store, s.ReplicasUp, len(s.Replicas), notRunning(s))
		}
	}
	for _, d := range v.Drift {
		var vals []string
		for _, dv := range d.Values {
			vals = append(vals, fmt.Sprintf("node %d: %s", dv.Node, dv.Value))
		}
		raise(wire.HealthWarning, "configuration drift (%s): %s [%s]", d.Kind, d.Detail, strings.Join(vals, "; "))
	}
	return h, nil
}

// notRunning lists the replicas of a store that do not run, and why.
func notRunning(s wire.ClusterStore) string {
	var out []string
	for _, rs := range s.ReplicaStates {
		switch rs.State {
		case wire.ReplicaNotRunning:
			out = append(out, fmt.Sprintf("node %d does not run it", rs.Node))
		case wire.ReplicaNodeDown:
			out = append(out, fmt.Sprintf("node %d is down", rs.Node))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return ": " + strings.Join(out, ", ")
}

func lastSeen(ms int64) string {
	if ms < 0 {
		return "ever (since this node started)"
	}
	return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
}

// ServeView serves cluster.view (a registry read, on any storenode).
func (c *Cluster) ServeView(ctx context.Context, data []byte) (any, error) {
	return serveRead(ctx, data, c.cfg.Limits, c.View)
}

// ServeHealth serves cluster.health (a registry read, on any storenode).
func (c *Cluster) ServeHealth(ctx context.Context, data []byte) (any, error) {
	return serveRead(ctx, data, c.cfg.Limits, c.Health)
}

func serveRead[T any](ctx context.Context, data []byte, l wire.Limits, read func(context.Context) (T, error)) (any, error) {
	if err := wire.DecodeClusterRequest(data, l); err != nil {
		return nil, err
	}
	return read(ctx)
}

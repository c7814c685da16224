package lifecycle

import (
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// Each storenode takes at most its own number of store replicas
// (Config.MaxReplicas, -max-replicas; other nodes' limits come from their
// heartbeats). The meta leader checks it before it proposes a create: the
// registry places a new store on the least-loaded nodes (meta.State.place),
// and when one of those is at its limit the create answers
// replica_limit_reached and nothing is proposed, so nothing that exists is
// touched. Creates in flight on this leader hold their room until their
// proposal returns (reserve), so concurrent creates cannot overshoot a
// limit together. The check runs on the meta leader only, outside the
// replicated state: a registry on an older build applies the same commands,
// and a leader change in the middle of a burst of creates may overshoot by
// the creates then in flight.

// reserve finds the nodes the new store id with rf replicas would be
// placed on and holds a replica's room on each until release is called;
// it fails with replica_limit_reached when one of them is at its limit. A
// reservation whose store the registry already holds is not counted twice.
func (l *Lifecycle) reserve(id string, rf int) (release func(), err error) {
	l.resMu.Lock()
	defer l.resMu.Unlock()
	// Read under the lock: a create released meanwhile is in what is read.
	load, err := l.cfg.Registry.NodeLoad()
	if err != nil {
		return nil, err
	}
	nodes, err := l.cfg.Registry.Nodes()
	if err != nil {
		return nil, err
	}
	for store, place := range l.reserved {
		s, err := l.cfg.Registry.Store(store)
		if err != nil {
			return nil, err
		}
		if s == nil { // not applied yet
			for _, n := range place {
				load[n]++
			}
		}
	}
	place := placement(nodes, load, rf)
	if len(place) < rf {
		return func() {}, nil // too few nodes: the registry answers that itself
	}
	for _, n := range place {
		if max := l.maxReplicas(n); max > 0 && load[n] >= max {
			return nil, codes.New(codes.ReplicaLimitReached,
				"storenode %d holds %d store replicas, its maximum (max_replicas %d): a store with replication factor %d does not fit", n, load[n], max, rf)
		}
	}
	if _, ok := l.reserved[id]; ok {
		// The same store created twice at once: the second waits for
		// nothing here; the registry makes it one store.
		return func() {}, nil
	}
	l.reserved[id] = place
	return func() {
		l.resMu.Lock()
		delete(l.reserved, id)
		l.resMu.Unlock()
	}, nil
}

// maxReplicas is node n's limit: its own setting for this node, the one its
// heartbeat reports for another, else this node's (a node not heard from
// yet, or on a build without the setting).
func (l *Lifecycle) maxReplicas(n uint64) int {
	if n != l.cfg.NodeID && l.cfg.ReplicaLimits != nil {
		if max := l.cfg.ReplicaLimits.MaxReplicas(n); max > 0 {
			return max
		}
	}
	return l.cfg.MaxReplicas
}

// placement is meta.State.place: the rf least-loaded nodes not leaving.
func placement(nodes []meta.Node, load map[uint64]int, rf int) []uint64 {
	ids := make([]uint64, 0, len(nodes))
	for _, n := range nodes {
		if !n.Leaving {
			ids = append(ids, n.ID)
		}
	}
	return meta.LeastLoaded(ids, load, rf)
}

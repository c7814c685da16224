package replica

import (
	"slices"
	"time"
)

// First leaders without an election timeout (DESIGN.md, "First leaders").
//
// A store's Raft group has no leader when its replicas start together: a
// new store, a dormant store woken, a cluster restarted. Left alone, its
// first leader comes after an election timeout (0.5–1 s at the default
// tick), which is most of a create's or a wake's latency. Instead one
// replica of the group, the designated one, is asked to campaign at once,
// as soon as one other replica runs to vote for it: every other replica,
// once started, asks it (Config.Campaign) every campaignEvery until it
// sees a leader, for at most campaignFor. A store with one replica asks
// itself. The designated replica campaigns only while it knows no leader
// (raft.Host.Campaign), so a replica restarting next to a running leader
// disturbs nothing; when the designated replica is down or behind, the
// election timeout elects a leader as before.

const (
	campaignEvery = 25 * time.Millisecond
	campaignFor   = 2 * time.Second
)

// designated is the replica of a store asked to campaign first: spread
// over the store's replicas by shard id, so that new stores' leaders are
// spread over the nodes.
func designated(spec Spec) uint64 {
	ids := slices.Clone(spec.Replicas)
	slices.Sort(ids)
	return ids[spec.ShardID%uint64(len(ids))]
}

// elect starts asking for r's first leader, if r's node should: not for a
// replica joining a running group, nor by the designated replica of a
// group of several (the others ask it, once they run). The goroutine is
// one of r's tasks, and of the Set's: it ends with r. The caller holds
// s.mu, and the Set is not closing.
func (s *Set) elect(r *Replica) {
	spec := r.spec
	if s.cfg.Campaign == nil || spec.Join || len(spec.Replicas) == 0 {
		return
	}
	target := designated(spec)
	if target == s.cfg.NodeID && len(spec.Replicas) > 1 {
		return
	}
	s.tasks.Add(1)
	r.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		defer r.tasks.Done()
		t := time.NewTicker(campaignEvery)
		defer t.Stop()
		deadline := time.Now().Add(campaignFor)
		for time.Now().Before(deadline) {
			if s.cfg.Raft.Leads(spec.ShardID) || s.cfg.Raft.Follows(spec.ShardID) {
				return
			}
			s.cfg.Campaign(target, spec)
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

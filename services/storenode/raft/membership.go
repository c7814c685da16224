package raft

import (
	"context"
	"fmt"
)

// Membership is a shard's membership as its leader knows it.
type Membership struct {
	// ConfigChangeID must be passed to the next change, so that two
	// concurrent changes cannot both apply.
	ConfigChangeID uint64
	Voters         map[uint64]string // node id → Raft address
	NonVoters      map[uint64]string
	Removed        map[uint64]bool // ids that were members and may never return
}

// Has reports whether id is a voting or non-voting member.
func (m Membership) Has(id uint64) bool {
	_, v := m.Voters[id]
	_, nv := m.NonVoters[id]
	return v || nv
}

// Membership reads a shard's membership through its leader.
func (h *Host) Membership(ctx context.Context, shard uint64) (Membership, error) {
	mem, err := h.nh.SyncGetShardMembership(ctx, shard)
	if err != nil {
		return Membership{}, fmt.Errorf("raft: membership of shard %d: %w", shard, Error(err))
	}
	out := Membership{ConfigChangeID: mem.ConfigChangeID, Voters: mem.Nodes, NonVoters: mem.NonVotings, Removed: map[uint64]bool{}}
	for id := range mem.Removed {
		out.Removed[id] = true
	}
	return out, nil
}

// AddVoter adds a voting member at addr; ccid is from Membership.
func (h *Host) AddVoter(ctx context.Context, shard, id uint64, addr string, ccid uint64) error {
	if err := h.nh.SyncRequestAddReplica(ctx, shard, id, addr, ccid); err != nil {
		return fmt.Errorf("raft: add node %d to shard %d: %w", id, shard, Error(err))
	}
	return nil
}

// AddNonVoter adds a non-voting member at addr; ccid is from Membership.
func (h *Host) AddNonVoter(ctx context.Context, shard, id uint64, addr string, ccid uint64) error {
	if err := h.nh.SyncRequestAddNonVoting(ctx, shard, id, addr, ccid); err != nil {
		return fmt.Errorf("raft: add non-voting node %d to shard %d: %w", id, shard, Error(err))
	}
	return nil
}

// Remove takes a member out of the shard for good; ccid is from Membership.
func (h *Host) Remove(ctx context.Context, shard, id uint64, ccid uint64) error {
	if err := h.nh.SyncRequestDeleteReplica(ctx, shard, id, ccid); err != nil {
		return fmt.Errorf("raft: remove node %d from shard %d: %w", id, shard, Error(err))
	}
	return nil
}

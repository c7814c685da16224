package raft

import (
	"errors"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

// Campaign makes this host's replica of shard stand for election now,
// instead of after its election timeout, if it knows no leader. It
// reports whether it asked: false when the replica does not run here or
// knows a leader (then nothing happens).
//
// dragonboat v4 has no call for this. A leader handing its leadership over
// sends the target a TimeoutNow message, on which a follower starts an
// election at once, skipping the pre-vote ("nothing different from the
// clock moving forward quickly", the Raft thesis, p. 29). Campaign hands
// the replica such a message itself, through the path messages from other
// hosts take, with term 0 (a message of no term, which every replica takes
// as of its own). An early election is always safe in Raft: timing decides
// only who leads, never what is committed. It is asked only of a replica
// that knows no leader, so it disrupts none; a candidate, or a replica with
// a committed membership change still to apply, ignores it (the campaign
// is then skipped, and the caller may ask again).
func (h *Host) Campaign(shard uint64) bool {
	t := h.transport.Load()
	if t == nil || t.onBatch == nil {
		return false
	}
	_, _, ok, err := h.nh.GetLeaderID(shard)
	if err != nil || ok {
		if err != nil && !errors.Is(err, dragonboat.ErrShardNotFound) {
			tlog.Debugf("campaign of shard %d: %v", shard, err)
		}
		return false
	}
	t.onBatch(pb.MessageBatch{
		DeploymentId: deploymentID, BinVer: raftio.TransportBinVersion,
		Requests: []pb.Message{{Type: pb.TimeoutNow, ShardID: shard, To: h.id, From: h.id}},
	})
	return true
}

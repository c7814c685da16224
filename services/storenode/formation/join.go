package formation

import (
	"context"
	"errors"
	"fmt"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// maxMetaVoters bounds the meta shard's voting members; nodes beyond it
// replicate the registry as non-voting members, so that a large cluster does
// not slow down or endanger registry writes.
const maxMetaVoters = 5

// fatalJoinError is a join the cluster refused for good.
type fatalJoinError struct{ reason string }

func (e *fatalJoinError) Error() string {
	return "storenode: the cluster refused this node: " + e.reason
}

func isFatalJoin(err error) bool {
	var f *fatalJoinError
	return errors.As(err, &f)
}

// joinExisting asks the meta leader to add this node, then starts its meta
// replica in join mode.
func (f *Formation) joinExisting() error {
	b, err := wire.Marshal(proto.JoinRequest{Cluster: f.cfg.ClusterName, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
	defer cancel()
	m, err := f.cfg.NATS.RequestWithContext(ctx, proto.Meta(proto.MetaJoin), b)
	if err != nil {
		return fmt.Errorf("storenode: ask the meta leader to join: %w", err)
	}
	if code := m.Header.Get(wire.HeaderErrorCode); code != "" {
		return fmt.Errorf("storenode: join: %s %s", code, m.Header.Get(wire.HeaderError))
	}
	var r proto.JoinReply
	if err := wire.UnmarshalReply(m.Data, &r); err != nil {
		return fmt.Errorf("storenode: join: %w", err)
	}
	if r.Refused {
		return &fatalJoinError{r.Reason}
	}
	if !r.OK {
		return fmt.Errorf("storenode: join: %s", r.Reason)
	}
	if err := f.startMetaReplica(nil, true); err != nil {
		return err
	}
	f.cfg.Logger.Info("joined the cluster", "cluster", f.cfg.ClusterName, "non_voting", r.NonVoting)
	return nil
}

// AddNode serves a join (_LB.meta.join) on the meta leader: it adds the node
// to the meta shard (as a voter while there are fewer than maxMetaVoters)
// unless its id or address is taken. Repeating a join that succeeded
// succeeds.
func (f *Formation) AddNode(ctx context.Context, data []byte) (any, error) {
	var req proto.JoinRequest
	if err := wire.UnmarshalReply(data, &req); err != nil || req.NodeID == 0 || req.RaftAddress == "" {
		return nil, codes.New(codes.MalformedRequest, "malformed join request")
	}
	if req.Cluster != f.cfg.ClusterName {
		return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("this is cluster %q, the node is configured for %q", f.cfg.ClusterName, req.Cluster)}, nil
	}
	mctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
	defer cancel()
	mem, err := f.cfg.Raft.Membership(mctx, meta.ShardID)
	if err != nil {
		return nil, raft.Error(err)
	}
	if mem.Removed[req.NodeID] {
		return &proto.JoinReply{Refused: true, Reason: removedReason(req.NodeID)}, nil
	}
	for _, set := range []map[uint64]string{mem.Voters, mem.NonVoters} {
		for id, addr := range set {
			_, nonVoting := mem.NonVoters[id]
			switch {
			case id == req.NodeID && addr == req.RaftAddress:
				return &proto.JoinReply{OK: true, NonVoting: nonVoting}, nil
			case id == req.NodeID:
				return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("node id %d is already a member at %s", id, addr)}, nil
			case addr == req.RaftAddress:
				return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("raft address %s is already used by node %d", addr, id)}, nil
			}
		}
	}
	nonVoting := len(mem.Voters) >= maxMetaVoters
	if nonVoting {
		err = f.cfg.Raft.AddNonVoter(mctx, meta.ShardID, req.NodeID, req.RaftAddress, mem.ConfigChangeID)
	} else {
		err = f.cfg.Raft.AddVoter(mctx, meta.ShardID, req.NodeID, req.RaftAddress, mem.ConfigChangeID)
	}
	if err != nil {
		return &proto.JoinReply{Reason: err.Error()}, nil // e.g. a concurrent change: the node asks again
	}
	f.cfg.Logger.Info("added a storenode to the cluster", "node", req.NodeID, "raft_address", req.RaftAddress, "non_voting", nonVoting)
	return &proto.JoinReply{OK: true, NonVoting: nonVoting}, nil
}

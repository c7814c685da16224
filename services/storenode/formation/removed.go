package formation

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/nats-io/nats.go"
)

// A removed node's id is retired: it stays in the meta shard's removed set
// for good. Such a node never serves again, whatever its data says:
//
//   - fresh (empty data directory), its join is refused (AddNode);
//   - restarted on its data, it asks the meta leader before it starts its
//     meta replica (checkMember, served by CheckMember) and refuses to start;
//   - running, or restarted while no meta leader could answer, it hears it
//     from the members that receive its heartbeats (package cluster sends a
//     notice on proto.Removed), and stops (Fatal; node closes itself).

// memberCheckWait bounds the question a node starting from its data asks.
const memberCheckWait = 2 * time.Second

// removedReason says why a removed node may not serve.
func removedReason(id uint64) string {
	return fmt.Sprintf("node id %d was removed from the cluster (cluster.remove_node) and never serves again; a storenode that comes back needs a new id and an empty data directory", id)
}

// serveRemoved listens for the notice that this node was removed.
func (f *Formation) serveRemoved() error {
	sub, err := f.cfg.NATS.Subscribe(proto.Removed(f.cfg.ClusterName, f.cfg.NodeID), func(m *nats.Msg) {
		var n proto.RemovedNotice
		if wire.UnmarshalReply(m.Data, &n) != nil || n.NodeID != f.cfg.NodeID || n.Cluster != f.cfg.ClusterName {
			return
		}
		f.setFatal(fmt.Errorf("storenode: %s (node %d says so): stopping", removedReason(f.cfg.NodeID), n.By))
	})
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	f.run.Keep(sub)
	return nil
}

// checkMember asks the meta leader whether this node, about to start from
// its data, is still a member; it fails (for good) only when the answer is
// that it was removed. Without an answer (no meta leader: the cluster is
// starting, or an older one) the node starts, and the heartbeat notice
// catches a removal later.
func (f *Formation) checkMember() error {
	b, err := wire.Marshal(proto.JoinRequest{Cluster: f.cfg.ClusterName, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(f.ctx, memberCheckWait)
	defer cancel()
	m, err := f.cfg.NATS.RequestWithContext(ctx, proto.Meta(proto.MetaMember), b)
	if err != nil || m.Header.Get(wire.HeaderErrorCode) != "" {
		return nil
	}
	var r proto.JoinReply
	if wire.UnmarshalReply(m.Data, &r) != nil || !r.Refused {
		return nil
	}
	err = &fatalJoinError{r.Reason}
	f.setFatal(err)
	return err
}

// CheckMember serves _LB.meta.member on the meta leader: may the node run
// as a member? Refused when its id was removed.
func (f *Formation) CheckMember(ctx context.Context, data []byte) (any, error) {
	var req proto.JoinRequest
	if err := wire.UnmarshalReply(data, &req); err != nil || req.NodeID == 0 {
		return nil, codes.New(codes.MalformedRequest, "malformed member request")
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
	switch {
	case mem.Removed[req.NodeID]:
		return &proto.JoinReply{Refused: true, Reason: removedReason(req.NodeID)}, nil
	case mem.Has(req.NodeID):
		return &proto.JoinReply{OK: true}, nil
	}
	return &proto.JoinReply{Reason: fmt.Sprintf("node %d is not a member of the meta shard", req.NodeID)}, nil
}

package formation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/nats-io/nats.go"
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
	b, err := wire.Marshal(proto.JoinRequest{Cluster: f.cfg.ClusterName, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress,
		StoreCommandVersion: f.cfg.StoreCommandVersion, MetaCommandVersion: f.cfg.MetaCommandVersion})
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

// memberQuestion decodes a join or member request (what) and reads the
// meta shard's membership through its leader. answer, when not nil, is the
// reply already known: the node is configured for another cluster, or its
// id was removed.
func (f *Formation) memberQuestion(ctx context.Context, data []byte, what string) (req proto.JoinRequest, mem raft.Membership, answer any, err error) {
	if err := wire.UnmarshalReply(data, &req); err != nil || req.NodeID == 0 || req.RaftAddress == "" {
		return req, mem, nil, codes.New(codes.MalformedRequest, "malformed %s request", what)
	}
	if req.Cluster != f.cfg.ClusterName {
		return req, mem, &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("this is cluster %q, the node is configured for %q", f.cfg.ClusterName, req.Cluster)}, nil
	}
	mctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
	defer cancel()
	if mem, err = f.cfg.Raft.Membership(mctx, meta.ShardID); err != nil {
		return req, mem, nil, raft.Error(err)
	}
	if mem.Removed[req.NodeID] {
		return req, mem, &proto.JoinReply{Refused: true, Reason: removedReason(req.NodeID)}, nil
	}
	return req, mem, nil, nil
}

// AddNode serves a join (_LB.meta.join) on the meta leader: it adds the node
// to the meta shard (as a voter while there are fewer than maxMetaVoters)
// unless its id or address is taken. Repeating a join that succeeded
// succeeds.
func (f *Formation) AddNode(ctx context.Context, data []byte) (any, error) {
	req, mem, answer, err := f.memberQuestion(ctx, data, "join")
	if answer != nil || err != nil {
		return answer, err
	}
	mctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
	defer cancel()
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
	// A build that does not cover the cluster version would not apply
	// what the others write: refused (it may come back on a newer build).
	if v, err := f.cfg.Registry.ClusterVersion(); err == nil {
		own := meta.ClusterVersion{Store: max(req.StoreCommandVersion, 1), Meta: max(req.MetaCommandVersion, 1)}
		if !own.Covers(v) {
			f.cfg.Logger.Warn("refused a storenode on an older build", "node", req.NodeID, "supports_store", own.Store, "supports_meta", own.Meta, "cluster_store", v.Store, "cluster_meta", v.Meta)
			return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("the cluster runs at version store %d, meta %d, and this build supports only store %d, meta %d: run a build that supports it (see Upgrading in docs/operations.md)", v.Store, v.Meta, own.Store, own.Meta)}, nil
		}
	}
	// With mutual TLS on the Raft transport, a node whose certificate the
	// others would refuse is not added: as a member it would count in
	// quorums it can never take part in.
	if err := f.cfg.Raft.CheckPeer(mctx, req.RaftAddress); err != nil {
		if errors.Is(err, raft.ErrPeerNotAuthenticated) {
			f.cfg.Logger.Warn("refused a storenode whose Raft transport failed mutual TLS", "node", req.NodeID, "raft_address", req.RaftAddress, "err", err)
			return &proto.JoinReply{Refused: true, Reason: err.Error()}, nil
		}
		return &proto.JoinReply{Reason: err.Error()}, nil // unreachable for now: the node asks again
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
	b, err := wire.Marshal(proto.JoinRequest{Cluster: f.cfg.ClusterName, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress,
		StoreCommandVersion: f.cfg.StoreCommandVersion, MetaCommandVersion: f.cfg.MetaCommandVersion})
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
	req, mem, answer, err := f.memberQuestion(ctx, data, "member")
	if answer != nil || err != nil {
		return answer, err
	}
	if mem.Has(req.NodeID) {
		return &proto.JoinReply{OK: true}, nil
	}
	return &proto.JoinReply{Reason: fmt.Sprintf("node %d is not a member of the meta shard", req.NodeID)}, nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/services/storenode/raft"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// maxMetaVoters bounds the meta shard's voting members; nodes beyond it
// replicate the registry as non-voting members, so that a large cluster does
// not slow down or endanger registry writes.
const maxMetaVoters = 5

// startMetaReplica starts this node's meta replica: with the initial
// members when forming the cluster, with join when added to a running one,
// or from disk when it has run before. It is idempotent.
func (n *Node) startMetaReplica(members map[uint64]string, join bool) error {
	n.mu.Lock()
	started := n.metaStarted
	n.mu.Unlock()
	if started {
		return nil
	}
	rc := raft.ReplicaConfig{ShardID: meta.ShardID, ElectionTicks: n.cfg.ElectionTicks, SnapshotEntries: 1000, CompactionOverhead: 100}
	create := func() dbsm.IStateMachine { return meta.New() }
	if err := n.host.StartInMemory(rc, members, join, create); err != nil {
		return fmt.Errorf("storenode: start meta shard: %w", err)
	}
	n.mu.Lock()
	n.metaStarted = true
	n.mu.Unlock()
	n.pokeReconcile()
	n.pokeLeaders()
	return nil
}

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
func (n *Node) joinExisting() error {
	b, err := wire.Marshal(proto.JoinRequest{Cluster: n.cfg.ClusterName, NodeID: n.cfg.NodeID, RaftAddress: n.cfg.RaftAddress})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.followCtx, n.cfg.RequestTimeout)
	defer cancel()
	m, err := n.cfg.NATS.RequestWithContext(ctx, proto.Meta(proto.MetaJoin), b)
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
	if err := n.startMetaReplica(nil, true); err != nil {
		return err
	}
	n.cfg.Logger.Info("joined the cluster", "cluster", n.cfg.ClusterName, "non_voting", r.NonVoting)
	return nil
}

// addNode serves a join on the meta leader: it adds the node to the meta
// shard (as a voter while there are fewer than maxMetaVoters) unless its id
// or address is taken. Repeating a join that succeeded succeeds.
func (n *Node) addNode(ctx context.Context, data []byte) (any, error) {
	var req proto.JoinRequest
	if err := wire.UnmarshalReply(data, &req); err != nil || req.NodeID == 0 || req.RaftAddress == "" {
		return nil, codes.New(codes.MalformedRequest, "malformed join request")
	}
	if req.Cluster != n.cfg.ClusterName {
		return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("this is cluster %q, the node is configured for %q", n.cfg.ClusterName, req.Cluster)}, nil
	}
	mctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	mem, err := n.host.Membership(mctx, meta.ShardID)
	if err != nil {
		return nil, raftError(err)
	}
	if _, gone := mem.Removed[req.NodeID]; gone {
		return &proto.JoinReply{Refused: true, Reason: fmt.Sprintf("node id %d was removed from the cluster; a storenode that comes back needs a new id and an empty data directory", req.NodeID)}, nil
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
		err = n.host.AddNonVoter(mctx, meta.ShardID, req.NodeID, req.RaftAddress, mem.ConfigChangeID)
	} else {
		err = n.host.AddVoter(mctx, meta.ShardID, req.NodeID, req.RaftAddress, mem.ConfigChangeID)
	}
	if err != nil {
		return &proto.JoinReply{Reason: err.Error()}, nil // e.g. a concurrent change: the node asks again
	}
	n.cfg.Logger.Info("added a storenode to the cluster", "node", req.NodeID, "raft_address", req.RaftAddress, "non_voting", nonVoting)
	return &proto.JoinReply{OK: true, NonVoting: nonVoting}, nil
}

// foreignNode is a storenode of another cluster seen on this NATS server.
type foreignNode struct {
	Cluster     string
	NodeID      uint64
	RaftAddress string
	Seen        time.Time
}

// noteForeign remembers a storenode of another cluster that asked to form
// or join; the cluster view and health report it for a while.
func (n *Node) noteForeign(h hello) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.foreign == nil {
		n.foreign = map[string]foreignNode{}
	}
	n.foreign[fmt.Sprintf("%s/%d/%s", h.Cluster, h.NodeID, h.RaftAddress)] = foreignNode{h.Cluster, h.NodeID, h.RaftAddress, time.Now()}
}

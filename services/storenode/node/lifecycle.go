package node

import (
	"context"
	"sort"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// syncMetaLeader keeps _LB.meta.* (registry writes) subscribed exactly while
// this node leads the meta shard, like the store leader subjects.
func (n *Node) syncMetaLeader() {
	leads := n.host.Leads(meta.ShardID)
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case leads && n.metaLeader == nil && !n.closing && n.clusterOK:
		sub, err := n.cfg.NATS.QueueSubscribe(proto.MetaWildcard, proto.LeaderQueue, n.onMeta)
		if err != nil {
			n.cfg.Logger.Error("cannot serve the registry", "err", err)
			return
		}
		n.metaLeader = sub
	case !leads && n.metaLeader != nil:
		n.metaLeader.Unsubscribe()
		n.metaLeader = nil
	}
}

// onMeta serves registry writes: stores.create and stores.remove.
func (n *Node) onMeta(m *nats.Msg) {
	op := proto.ParseMeta(m.Subject)
	n.srv.Dispatch(m, n.cfg.RequestTimeout, func(ctx context.Context, m *nats.Msg) (any, error) {
		switch op {
		case subjects.StoresCreate:
			return n.createStore(ctx, m.Data)
		case subjects.StoresRemove:
			return n.removeStore(ctx, m.Data)
		case proto.MetaJoin:
			return n.addNode(ctx, m.Data)
		case subjects.ClusterRemoveNode:
			return n.removeNode(ctx, m.Data)
		}
		return nil, codes.New(codes.UnknownOperation, "unknown store operation %q", wire.Truncate(op))
	})
}

func (n *Node) createStore(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeCreateStore(data, n.cfg.Limits)
	if err != nil {
		return nil, err
	}
	nodes, err := n.reg.Nodes()
	if err != nil {
		return nil, err
	}
	settings, err := n.resolveSettings(req.Settings, len(nodes))
	if err != nil {
		return nil, err
	}
	r, err := n.reg.Propose(ctx, meta.Command{Op: meta.OpCreate, Store: req.Store, Settings: settings, Origin: "api", MaxStores: int64(n.cfg.MaxStores)})
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Answer once the store serves (or the deadline nears): a client may
	// append right after create returns.
	s := r.Store
	for s.Status == meta.StatusCreating {
		wait, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		<-wait.Done()
		cancel()
		if ctx.Err() != nil {
			break
		}
		now, err := n.reg.Store(req.Store)
		if err != nil || now == nil {
			break
		}
		s = now
	}
	return &wire.CreateStoreReply{Config: toConfig(s), Status: n.toStatus(s), Existed: r.Existed}, nil
}

func (n *Node) removeStore(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeStoreRequest(data, n.cfg.Limits)
	if err != nil {
		return nil, err
	}
	r, err := n.reg.Propose(ctx, meta.Command{Op: meta.OpRemove, Store: req.Store, Protected: n.cfg.DefaultStore})
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return &wire.RemoveStoreReply{Status: n.toStatus(r.Store)}, nil
}

// onMetaRead serves registry reads from this node's meta replica: list,
// status, config. They reflect the registry as this replica has applied it,
// which may trail the leader by a moment.
func (n *Node) onMetaRead(m *nats.Msg) {
	op := proto.ParseMetaRead(m.Subject)
	n.srv.Dispatch(m, n.cfg.RequestTimeout, func(ctx context.Context, m *nats.Msg) (any, error) {
		if isClusterRead(op) {
			return n.clusterRead(ctx, op, m.Data)
		}
		return n.metaRead(op, m.Data)
	})
}

func (n *Node) metaRead(op string, data []byte) (any, error) {
	if op == subjects.StoresList {
		req, limit, err := wire.DecodeListStores(data, n.cfg.Limits)
		if err != nil {
			return nil, err
		}
		stores, err := n.reg.Stores()
		if err != nil {
			return nil, raftError(err)
		}
		i := sort.Search(len(stores), func(i int) bool { return stores[i].ID > req.After })
		reply := &wire.ListStoresReply{Stores: []wire.StoreStatus{}}
		for ; i < len(stores); i++ {
			if len(reply.Stores) == limit {
				reply.Next = reply.Stores[limit-1].Store
				break
			}
			reply.Stores = append(reply.Stores, n.toStatus(stores[i]))
		}
		return reply, nil
	}
	req, err := wire.DecodeStoreRequest(data, n.cfg.Limits)
	if err != nil {
		return nil, err
	}
	s, err := n.reg.Store(req.Store)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, codes.New(codes.StoreNotFound, "store %q does not exist", req.Store)
	}
	switch op {
	case subjects.StoresStatus:
		st := n.toStatus(s)
		return &st, nil
	case subjects.StoresConfig:
		c := toConfig(s)
		return &c, nil
	}
	return nil, codes.New(codes.UnknownOperation, "unknown store operation %q", op)
}

// onRegistryLookup answers whether a store exists, and its status. The body
// is the store id.
func (n *Node) onRegistryLookup(m *nats.Msg) {
	var a proto.RegistryAnswer
	if s, err := n.reg.Store(string(m.Data)); err == nil {
		if s != nil {
			a = proto.RegistryAnswer{Exists: true, Status: s.Status}
		}
	}
	b, _ := wire.Marshal(a)
	m.Respond(b)
}

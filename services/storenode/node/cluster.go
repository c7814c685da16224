package node

import (
	"fmt"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// clusterOwner is the subject on which every storenode answers with its
// cluster's UID ("_cluster" is not a valid store id, so it never clashes).
var clusterOwner = proto.Owner("_cluster")

// joinCluster makes sure the registry has a cluster UID, checks that no other
// cluster's storenodes answer on this NATS server, and only then serves the
// registry subjects. A second Logbook with its own data pointed at the same
// NATS would otherwise answer stores.* requests from its own registry.
func (n *Node) joinCluster() error {
	r, err := n.reg.Propose(n.followCtx, meta.Command{Op: meta.OpInit, UID: uuid.NewString()})
	if err != nil {
		return err
	}
	uid := r.UID
	n.clusterSub, err = n.cfg.NATS.Subscribe(clusterOwner, func(m *nats.Msg) {
		b, err := wire.Marshal(proto.OwnerReply{UID: uid, NodeID: n.cfg.NodeID})
		if err == nil {
			m.Respond(b)
		}
	})
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	if other := n.otherCluster(uid); other != "" {
		n.clusterSub.Unsubscribe()
		n.clusterSub = nil
		err := fmt.Errorf("storenode: another Logbook cluster uses this NATS server (%s; ours is %s): refusing to serve, since clients could not tell the two apart", other, uid)
		n.mu.Lock()
		n.fatal = err
		n.mu.Unlock()
		n.cfg.Logger.Error("refusing to start", "err", err)
		return err
	}
	if n.registrySub, err = n.cfg.NATS.QueueSubscribe(proto.RegistryLookup, proto.StorenodeQueue, n.onRegistryLookup); err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	if n.metaReadSub, err = n.cfg.NATS.QueueSubscribe(proto.MetaReadWildcard, proto.StorenodeQueue, n.onMetaRead); err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	n.mu.Lock()
	n.clusterOK = true
	n.mu.Unlock()
	n.pokeLeaders()
	return nil
}

// otherCluster returns a description of a storenode answering with another
// cluster UID, or "".
func (n *Node) otherCluster(uid string) string {
	inbox := nats.NewInbox()
	sub, err := n.cfg.NATS.SubscribeSync(inbox)
	if err != nil {
		return ""
	}
	defer sub.Unsubscribe()
	if err := n.cfg.NATS.PublishRequest(clusterOwner, inbox, nil); err != nil {
		return ""
	}
	deadline := time.Now().Add(ownerCheckWait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return ""
		}
		var o proto.OwnerReply
		if wire.UnmarshalReply(m.Data, &o) == nil && o.UID != uid {
			return fmt.Sprintf("node %d of cluster %s", o.NodeID, o.UID)
		}
	}
}

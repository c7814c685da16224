package formation

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/nats-io/nats.go"
)

// Admission: once its meta replica runs, a node makes sure that no other
// cluster serves on its NATS server (the owner check), starts serving the
// registry subjects and registers itself in the registry. Only then may the
// rest of the node act on the registry (Admitted).

// clusterOwner is the subject on which every storenode answers with its
// cluster's UID ("_cluster" is not a valid store id, so it never clashes).
var clusterOwner = proto.Owner("_cluster")

// ownerCheckWait is how long a storenode listens for other clusters' answers.
const ownerCheckWait = 150 * time.Millisecond

// admitStep is one round of admission; it reports whether the node is
// admitted.
func (f *Formation) admitStep() bool {
	if _, ok := f.cfg.Registry.Leader(); !ok {
		return false // no registry to act on yet
	}
	if !f.owned {
		if err := f.claimNATS(); err != nil {
			if f.Fatal() == nil {
				f.cfg.Logger.Warn("cannot join the cluster yet", "err", err)
			}
			return false
		}
		f.owned = true
	}
	if !f.enrolled {
		if _, err := f.cfg.Registry.Propose(f.ctx, meta.Command{Op: meta.OpRegisterNode, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress}); err != nil {
			f.cfg.Logger.Warn("cannot register with the meta shard yet", "err", err)
			return false
		}
		f.enrolled = true
	}
	f.mu.Lock()
	f.admitted = true
	f.mu.Unlock()
	f.cfg.Changed()
	return true
}

// claimNATS makes sure the registry has a cluster UID, checks that no other
// cluster's storenodes answer on this NATS server, and only then serves the
// registry subjects. A second Logbook with its own data pointed at the same
// NATS would otherwise answer stores.* requests from its own registry.
func (f *Formation) claimNATS() error {
	r, err := f.cfg.Registry.Propose(f.ctx, meta.Command{Op: meta.OpInit, UID: uuid.NewString()})
	if err != nil {
		return err
	}
	uid := r.UID
	sub, err := f.cfg.NATS.Subscribe(clusterOwner, func(m *nats.Msg) {
		b, err := wire.Marshal(proto.OwnerReply{UID: uid, NodeID: f.cfg.NodeID})
		if err == nil {
			m.Respond(b)
		}
	})
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	if other := f.otherCluster(uid); other != "" {
		sub.Unsubscribe()
		err := fmt.Errorf("storenode: another Logbook cluster uses this NATS server (%s; ours is %s): refusing to serve, since clients could not tell the two apart", other, uid)
		f.setFatal(err)
		return err
	}
	if err := f.cfg.Serve(); err != nil {
		sub.Unsubscribe()
		return err
	}
	f.run.Keep(sub)
	return nil
}

// otherCluster returns a description of a storenode answering with another
// cluster UID, or "".
func (f *Formation) otherCluster(uid string) string {
	inbox := nats.NewInbox()
	sub, err := f.cfg.NATS.SubscribeSync(inbox)
	if err != nil {
		return ""
	}
	defer sub.Unsubscribe()
	if err := f.cfg.NATS.PublishRequest(clusterOwner, inbox, nil); err != nil {
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

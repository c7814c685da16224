package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Two Logbooks that share a NATS server but not a Raft group would each elect
// themselves leader of a store with the same id and NATS would spread requests
// across two unrelated databases: revisions, idempotency and positions would
// silently break. To rule that out every store replica carries a UID, made
// when the store is created and kept beside its data (in a cluster, every
// replica of one Raft group has the same UID), and answers _LB.owner.<store>
// with it. A node never starts serving a store while a replica with another
// UID answers; a serving node stops only when another UID is serving too (a
// simultaneous start), so a misconfigured newcomer cannot take a healthy store
// down.

// ownerReply is the answer on _LB.owner.<store>.
type ownerReply struct {
	UID     string `msgpack:"uid"`
	NodeID  uint64 `msgpack:"node_id"`
	Serving bool   `msgpack:"serving"`
}

const ownerCheckWait = 150 * time.Millisecond

// loadStoreUID reads the store's UID from dir, creating it on first start.
func loadStoreUID(dir string) (string, error) {
	path := filepath.Join(dir, "UID")
	b, err := os.ReadFile(path)
	if err == nil {
		uid := strings.TrimSpace(string(b))
		if _, err := uuid.Parse(uid); err != nil {
			return "", fmt.Errorf("storenode: %s is not a UID: %q", path, uid)
		}
		return uid, nil
	}
	if !os.IsNotExist(err) {
		return "", fmt.Errorf("storenode: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("storenode: %w", err)
	}
	uid := uuid.NewString()
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("storenode: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(uid + "\n"); err != nil {
		return "", fmt.Errorf("storenode: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("storenode: %w", err)
	}
	return uid, nil
}

// subscribeOwner answers _LB.owner.<store> for this replica.
func (n *Node) subscribeOwner(r *replica) (*nats.Subscription, error) {
	return n.cfg.NATS.Subscribe(subjects.Owner(r.spec.ID), func(m *nats.Msg) {
		n.mu.Lock()
		serving := r.leaderSub != nil
		n.mu.Unlock()
		b, err := wire.Marshal(ownerReply{UID: r.uid, NodeID: n.cfg.NodeID, Serving: serving})
		if err == nil {
			m.Respond(b)
		}
	})
}

// findImposter asks every replica of the store for its identity and returns
// a description of one with another UID (serving, if onlyServing), or "".
func (n *Node) findImposter(r *replica, onlyServing bool) string {
	inbox := nats.NewInbox()
	sub, err := n.cfg.NATS.SubscribeSync(inbox)
	if err != nil {
		return ""
	}
	defer sub.Unsubscribe()
	if err := n.cfg.NATS.PublishRequest(subjects.Owner(r.spec.ID), inbox, nil); err != nil {
		return ""
	}
	deadline := time.Now().Add(ownerCheckWait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return ""
		}
		var o ownerReply
		if wire.UnmarshalReply(m.Data, &o) != nil || o.UID == r.uid || (onlyServing && !o.Serving) {
			continue
		}
		return fmt.Sprintf("node %d holds a different store %q (uid %s, ours %s, serving %v): two Logbooks with separate data share this NATS server",
			o.NodeID, r.spec.ID, o.UID, r.uid, o.Serving)
	}
}

package node

import (
	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/nats-io/nats.go"
	"time"
)

// Dormant stores (replica/DESIGN.md): the node's part is deciding which
// idle replica may sleep, and the wake broadcast that starts a store's
// dormant replicas on every node holding one.

// canHibernate reports whether an idle replica may become dormant: its
// store is settled in the registry (running or degraded, no replica
// moving, the registry's quota in force) and this node delivers none of
// its persistent subscriptions.
func (n *Node) canHibernate(r *replica.Replica) bool {
	s, err := n.reg.Store(r.Spec().ID)
	if err != nil || s == nil {
		return false
	}
	if s.Status != meta.StatusRunning && s.Status != meta.StatusDegraded || len(s.Moves) > 0 {
		return false
	}
	q := r.Usage().Quota
	if q.MaxEvents != uint64(s.Settings.MaxEvents) || q.MaxBytes != uint64(s.Settings.MaxBytes) {
		return false
	}
	return !n.deliveries.Busy(r.Spec().ID)
}

// announceWake asks every node holding a dormant replica of the store to
// start it. It never blocks (a NATS publish).
func (n *Node) announceWake(store string) {
	if err := n.cfg.NATS.Publish(proto.StoreWake, []byte(store)); err != nil {
		n.cfg.Logger.Debug("cannot announce a store wake", "store", store, "err", err)
	}
}

// subscribeWakes starts listening to the wake broadcast; the subscription
// ends with the node (leaveWakes).
func (n *Node) subscribeWakes() error {
	sub, err := n.cfg.NATS.Subscribe(proto.StoreWake, n.onWake)
	if err != nil {
		return err
	}
	n.wakes = sub
	return nil
}

// onWake starts this node's dormant replica of the store named by the
// message, if it has one. It runs on the subscription's goroutine: wakes
// are started one at a time.
func (n *Node) onWake(m *nats.Msg) {
	select {
	case <-n.done:
		return
	default:
	}
	id := string(m.Data)
	begin := time.Now()
	started, err := n.replicas.Wake(id)
	switch {
	case err != nil:
		n.cfg.Logger.Warn("cannot wake a dormant store replica", "store", id, "err", err)
	case started:
		n.cfg.Logger.Debug("woke a dormant store replica", "store", id, "took", time.Since(begin))
	}
}

// leaveWakes stops listening to the wake broadcast.
func (n *Node) leaveWakes() {
	if n.wakes != nil {
		n.wakes.Unsubscribe()
	}
}

package gateway

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// replies routes the storenodes' answers to the requests waiting for them:
// one wildcard subscription on an inbox prefix of the gateway's own, one
// token per client request. The token stays the same across the copies the
// gateway sends of a request (a resend after an attempt timeout, a retry
// after not_written or "no responders"), so that the first answer to any
// copy is taken, even one from a copy the gateway had given up waiting for.
// nats.go's Request cannot do that: each call has a token of its own.
type replies struct {
	prefix string // "<inbox>."
	sub    *nats.Subscription
	ids    *nuid.NUID // under mu

	mu      sync.Mutex
	waiting map[string]chan *nats.Msg
}

// newReplies subscribes to the gateway's reply inbox.
func newReplies(nc *nats.Conn) (*replies, error) {
	r := &replies{prefix: nc.NewInbox() + ".", ids: nuid.New(), waiting: map[string]chan *nats.Msg{}}
	sub, err := nc.Subscribe(r.prefix+"*", r.deliver)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the reply inbox: %w", err)
	}
	// Replies can be large (a page of events): bound the backlog by bytes
	// generously rather than drop answers someone waits for.
	if err := sub.SetPendingLimits(-1, 1<<30); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("reply inbox limits: %w", err)
	}
	r.sub = sub
	return r, nil
}

// deliver hands an answer to the request waiting for it; answers nobody
// waits for any more (a second copy's, after the first was taken) are
// dropped.
func (r *replies) deliver(m *nats.Msg) {
	token := m.Subject[min(len(r.prefix), len(m.Subject)):]
	r.mu.Lock()
	ch := r.waiting[token]
	r.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- m:
	default: // the request has more answers queued than it will read
	}
}

// call is one client request's place in replies.
type call struct {
	r     *replies
	id    string // also the request id sent to the storenodes
	inbox string
	ch    chan *nats.Msg
}

// open returns a new call; close it when the request is answered.
func (r *replies) open() *call {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.ids.Next()
	c := &call{r: r, id: id, inbox: r.prefix + id, ch: make(chan *nats.Msg, 8)}
	r.waiting[id] = c.ch
	return c
}

func (c *call) close() {
	c.r.mu.Lock()
	delete(c.r.waiting, c.id)
	c.r.mu.Unlock()
}

// stop leaves the inbox subscription.
func (r *replies) stop() error { return r.sub.Unsubscribe() }

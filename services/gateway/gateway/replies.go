package gateway

import (
	"errors"
	"fmt"
	"sync"

	"github.com/logbookdb/logbook/internal/proto"

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
//
// It also follows the storenodes' leader notices (proto.LeaderNotice): when
// a node starts serving a store's leader subjects, every request for that
// store still waiting here is kicked, and a resendable one is sent again at
// once, instead of after the attempt timeout: a request the previous leader
// took as it died or froze costs the election, not the election plus the
// rest of the attempt timeout.
type replies struct {
	prefix  string // "<inbox>."
	sub     *nats.Subscription
	notices *nats.Subscription
	ids     *nuid.NUID // under mu

	mu      sync.Mutex
	waiting map[string]*call
	byStore map[string]map[*call]struct{} // the calls to a store's leader
}

// newReplies subscribes to the gateway's reply inbox.
func newReplies(nc *nats.Conn) (*replies, error) {
	// Under _LB_INBOX, not _INBOX: no client request may name it as its
	// reply subject (wire.IsInboxSubject), nor a consumer as its deliver
	// subject, so nobody but a storenode answers into it.
	r := &replies{prefix: "_LB_INBOX." + nuid.Next() + ".", ids: nuid.New(), waiting: map[string]*call{}, byStore: map[string]map[*call]struct{}{}}
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
	notices, err := nc.Subscribe(proto.LeaderNoticeWildcard, r.newLeader)
	if err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to leader notices: %w", err)
	}
	r.sub, r.notices = sub, notices
	return r, nil
}

// newLeader kicks the calls waiting for an answer from a store's leader.
func (r *replies) newLeader(m *nats.Msg) {
	store, ok := proto.ParseLeaderNotice(m.Subject)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.byStore[store] {
		select {
		case c.kick <- struct{}{}:
		default: // already kicked
		}
	}
}

// deliver hands an answer to the request waiting for it; answers nobody
// waits for any more (a second copy's, after the first was taken) are
// dropped.
func (r *replies) deliver(m *nats.Msg) {
	token := m.Subject[min(len(r.prefix), len(m.Subject)):]
	r.mu.Lock()
	c := r.waiting[token]
	r.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case c.ch <- m:
	default: // the request has more answers queued than it will read
	}
}

// call is one client request's place in replies.
type call struct {
	r     *replies
	id    string // also the request id sent to the storenodes
	inbox string
	store string // the store whose leader it is for ("" for other subjects)
	ch    chan *nats.Msg
	kick  chan struct{} // a new leader of store serves now
}

// open returns a new call, for the leader of store if store is not "";
// close it when the request is answered.
func (r *replies) open(store string) *call {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.ids.Next()
	c := &call{r: r, id: id, inbox: r.prefix + id, store: store, ch: make(chan *nats.Msg, 8), kick: make(chan struct{}, 1)}
	r.waiting[id] = c
	if store != "" {
		calls := r.byStore[store]
		if calls == nil {
			calls = map[*call]struct{}{}
			r.byStore[store] = calls
		}
		calls[c] = struct{}{}
	}
	return c
}

func (c *call) close() {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	delete(c.r.waiting, c.id)
	if c.store != "" {
		calls := c.r.byStore[c.store]
		delete(calls, c)
		if len(calls) == 0 {
			delete(c.r.byStore, c.store)
		}
	}
}

// stop leaves the subscriptions.
func (r *replies) stop() error { return errors.Join(r.sub.Unsubscribe(), r.notices.Unsubscribe()) }

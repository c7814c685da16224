package storeops

import (
	"context"
	"sync"

	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/nats-io/nats.go"
)

// leading is the stores whose leader subjects this node serves now (between
// Serve and its stop), by id.
type leading struct {
	mu     sync.RWMutex
	stores map[string]Store
}

func (l *leading) add(id string, s Store) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stores == nil {
		l.stores = make(map[string]Store)
	}
	l.stores[id] = s
}

// remove forgets s, if it is still the one served under id.
func (l *leading) remove(id string, s Store) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stores[id] == s {
		delete(l.stores, id)
	}
}

func (l *leading) get(id string) (Store, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s, ok := l.stores[id]
	return s, ok
}

// Local serves a request for operation op of store in the caller's
// goroutine, without NATS, when this node serves the store's leader
// subjects now: for a gateway in the same process (the embedded single
// process), it saves the request's round trip through the NATS server to
// the leader and back. It serves the request exactly as the leader
// subscription would (the same handler, request id, timeout and bounds),
// and returns the reply as that subscription would publish it. ok is false
// when this node does not serve the store now, knows another leader, or is
// stopping: the caller then sends the request through NATS.
func (o *Ops) Local(ctx context.Context, store, op string, data []byte, requestID string) (reply *nats.Msg, ok bool) {
	s, ok := o.leading.get(store)
	if !ok || s.Follows() {
		return nil, false
	}
	s.Touch()
	v, err, ok := o.srv.Call(ctx, s.Spec().Timeout, func(ctx context.Context) (any, error) {
		return o.Handle(withRequestID(ctx, requestID), s, op, data)
	})
	if !ok {
		return nil, false
	}
	return serve.Reply(v, err), true
}

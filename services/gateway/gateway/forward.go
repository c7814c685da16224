package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// forward sends the request to whichever storenode leads the store right now:
// only the leader is subscribed to the store's leader subjects, so the
// gateway needs no view of the topology. While no node leads the store (an
// election, a restart), NATS answers "no responders" and the gateway retries
// with backoff until the deadline; if no storenode knows the store at all,
// the answer is store_not_found.
func (g *Gateway) forward(ctx context.Context, store, op string, data []byte) (*nats.Msg, error) {
	backoff := 5 * time.Millisecond
	checked := false
	for {
		msg, err := g.cfg.NATS.RequestMsgWithContext(ctx, &nats.Msg{Subject: subjects.Leader(store, op), Data: data})
		if err == nil {
			return msg, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return nil, deadlineError(ctx, err)
		}
		if !checked {
			exists, err := g.storeExists(ctx, store)
			if err != nil {
				return nil, err
			}
			if !exists {
				return nil, codes.New(codes.StoreNotFound, "store %q does not exist", store)
			}
			checked = true
		}
		select {
		case <-ctx.Done():
			return nil, codes.New(codes.Unavailable, "store %q has no leader", store)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

func (g *Gateway) storeExists(ctx context.Context, store string) (bool, error) {
	msg, err := g.cfg.NATS.RequestWithContext(ctx, subjects.RegistryLookup, []byte(store))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return false, codes.New(codes.Unavailable, "no storenode is reachable")
		}
		return false, deadlineError(ctx, err)
	}
	var r struct {
		Exists bool `msgpack:"exists"`
	}
	if err := wire.Unmarshal(msg.Data, &r); err != nil {
		return false, codes.New(codes.Internal, "bad registry reply: %v", err)
	}
	return r.Exists, nil
}

func deadlineError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return codes.New(codes.Timeout, "no answer before the deadline: %v", err)
	}
	return codes.New(codes.Unavailable, "%v", err)
}

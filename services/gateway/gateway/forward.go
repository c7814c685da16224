package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// forward sends the request to whichever storenode leads the store right now:
// only the leader is subscribed to the store's leader subjects, so the
// gateway needs no view of the topology. While no node leads the store (an
// election, a restart), NATS answers "no responders" and the gateway retries
// with backoff until the deadline; if no storenode knows the store at all,
// the answer is store_not_found, and if fewer than a quorum of its replicas
// run (it cannot get a leader now), unavailable at once.
func (g *Gateway) forward(ctx context.Context, store, op string, data []byte) (*nats.Msg, error) {
	backoff := 5 * time.Millisecond
	checked := false
	for {
		msg, err := g.cfg.NATS.RequestMsgWithContext(ctx, &nats.Msg{Subject: proto.Leader(store, op), Data: data})
		if err == nil {
			return msg, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return nil, deadlineError(ctx, err)
		}
		if !checked {
			a, err := g.lookup(ctx, store)
			switch {
			case errors.Is(err, errRegistryBusy):
				// Ask again after the backoff.
			case err != nil:
				return nil, err
			case !a.Exists:
				return nil, codes.New(codes.StoreNotFound, "store %q does not exist", store)
			case a.Status == wire.StatusRemoving:
				return nil, codes.New(codes.StoreRemoving, "store %q is being removed", store)
			case a.NoQuorum:
				// No leader can be elected until its nodes come back:
				// waiting for one until the deadline would only delay the answer.
				return nil, codes.New(codes.Unavailable, "store %q has no leader: %d of its %d replicas run, fewer than a quorum", store, a.Running, a.Replicas)
			default:
				checked = true
			}
		}
		if err := sleep(ctx, &backoff); err != nil {
			return nil, codes.New(codes.Unavailable, "store %q has no leader", store)
		}
		g.metrics.leaderRetries.Inc()
	}
}

// forwardTo sends a request to an internal subject, retrying while nobody
// serves it (e.g. during an election) until the deadline.
func (g *Gateway) forwardTo(ctx context.Context, subject string, data []byte, what string) (*nats.Msg, error) {
	backoff := 5 * time.Millisecond
	for {
		msg, err := g.cfg.NATS.RequestMsgWithContext(ctx, &nats.Msg{Subject: subject, Data: data})
		if err == nil {
			return msg, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return nil, deadlineError(ctx, err)
		}
		if err := sleep(ctx, &backoff); err != nil {
			return nil, codes.New(codes.Unavailable, "%s", what)
		}
		g.metrics.leaderRetries.Inc()
	}
}

func sleep(ctx context.Context, backoff *time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, 200*time.Millisecond)
	return nil
}

func (g *Gateway) lookup(ctx context.Context, store string) (proto.RegistryAnswer, error) {
	var a proto.RegistryAnswer
	msg, err := g.cfg.NATS.RequestWithContext(ctx, proto.RegistryLookup, []byte(store))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return a, codes.New(codes.Unavailable, "no storenode is reachable")
		}
		return a, deadlineError(ctx, err)
	}
	if code := msg.Header.Get(wire.HeaderErrorCode); code != "" {
		// The storenode could not read its registry (starting, stopping):
		// not an answer; ask again.
		return a, errRegistryBusy
	}
	if err := wire.UnmarshalReply(msg.Data, &a); err != nil {
		return a, codes.New(codes.Internal, "bad registry reply: %v", err)
	}
	return a, nil
}

// errRegistryBusy is a registry lookup the storenode could not answer.
var errRegistryBusy = errors.New("the store registry cannot answer now")

func deadlineError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return codes.New(codes.Timeout, "no answer before the deadline: %v", err)
	}
	return codes.New(codes.Unavailable, "%v", err)
}

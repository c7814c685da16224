package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// policy says how exchange treats one kind of request.
type policy struct {
	// store, when the subject is a store's leader subject: a notice that a
	// new leader serves it sends a resendable request again at once.
	store string
	// resendable requests are ones a second copy cannot harm (reads,
	// appends: deduplicated by event id, see proto.HeaderRequestID). They
	// are sent again when an attempt gets no answer within AttemptTimeout
	// (a leader that died or froze with the request in hand), or an answer
	// whose outcome is unknown (unavailable, timeout). Other requests wait
	// for their one answer until the deadline.
	resendable bool
	// noResponders, if set, is asked what it means that nobody serves the
	// subject now: nil to wait and send again, or the error to answer.
	noResponders func(ctx context.Context) error
	// what names the missing server in the not_written answer given when
	// nothing took the request before the deadline.
	what string
	// local, if set, is tried before the first copy goes through NATS: it
	// serves the request in this process when its storenode leads the
	// store (Config.Local), ok false otherwise.
	local func(ctx context.Context, requestID string) (reply *nats.Msg, ok bool)
}

// answer kinds, as exchange sees them.
const (
	final        = iota // the storenode's answer: pass it on
	nobody              // "no responders": no copy was delivered
	notDone             // not_written: this copy did nothing
	unknownRetry        // unavailable or timeout on a resendable request
	deposed             // not_written from a deposed leader: it did nothing, but the leader may have a copy
)

func classify(m *nats.Msg, p policy) int {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return nobody
	}
	code, err := strconv.Atoi(m.Header.Get(wire.HeaderErrorCode))
	switch {
	case err != nil:
		return final
	case codes.Code(code) == codes.NotWritten && m.Header.Get(proto.HeaderRefused) == proto.RefusedFollower:
		return deposed
	case codes.Code(code) == codes.NotWritten:
		return notDone
	case p.resendable && (codes.Code(code) == codes.Unavailable || codes.Code(code) == codes.Timeout):
		return unknownRetry
	}
	return final
}

// exchange sends a request to subject and returns the first answer that
// decides it. It sends the request again, on the same reply subject and
// with the same request id, while nobody serves the subject (an election),
// after not_written (nothing was done), and, for resendable requests,
// after an attempt without an answer or with an unknown outcome; each time
// after a backoff, except after a silent attempt. When the deadline passes
// it answers not_written if every copy is known to have done nothing, and
// timeout otherwise.
func (g *Gateway) exchange(ctx context.Context, subject string, data []byte, p policy) (*nats.Msg, error) {
	c := g.replies.open(p.store)
	defer c.close()
	msg := &nats.Msg{Subject: subject, Reply: c.inbox, Data: data, Header: nats.Header{proto.HeaderRequestID: []string{c.id}}}
	backoff := 5 * time.Millisecond
	sent, nothingDone := 0, 0 // copies sent; answers saying a copy did nothing
	if p.local != nil {
		// Bounded like a copy through NATS: a resendable request waits an
		// attempt timeout before its next copy goes to whoever leads now.
		lctx, cancel := context.WithTimeout(ctx, g.attemptTimeout(p))
		m, ok := p.local(lctx, c.id)
		cancel()
		if ok {
			g.metrics.local.Inc()
			sent++
			switch classify(m, p) {
			case final:
				return m, nil
			case nobody, notDone:
				nothingDone++
			}
			// Not decided here (an election began, the outcome is
			// unknown): the copies through NATS go to whoever leads now,
			// with the same request id.
		}
	}
	next := time.NewTimer(time.Hour)
	defer next.Stop()
	for {
		if err := g.cfg.NATS.PublishMsg(msg); err != nil {
			if errors.Is(err, nats.ErrMaxPayload) {
				return nil, codes.New(codes.RequestTooLarge, "request of %d bytes is over the NATS server's max_payload", len(data))
			}
			if sent == nothingDone {
				return nil, codes.New(codes.NotWritten, "cannot send to the storenodes: %v", err)
			}
			return nil, codes.New(codes.Unavailable, "cannot send to the storenodes: %v", err)
		}
		sent++
		attempt := p.resendable
		next.Reset(g.attemptTimeout(p))
	wait:
		for {
			select {
			case <-ctx.Done():
				if nothingDone >= sent {
					return nil, codes.New(codes.NotWritten, "%s", p.what)
				}
				return nil, codes.New(codes.Timeout, "no answer before the deadline")
			case <-next.C:
				if attempt {
					g.metrics.resends.Inc()
				}
				break wait
			case <-c.kick:
				// A new leader serves the store: an earlier copy may be
				// lost with the old one. Send a resendable request again
				// now; the others keep waiting (a second copy could harm).
				if p.resendable {
					g.metrics.noticeResends.Inc()
					break wait
				}
			case m := <-c.ch:
				switch classify(m, p) {
				case final:
					return m, nil
				case nobody:
					nothingDone++
					if p.noResponders != nil {
						if err := p.noResponders(ctx); err != nil {
							if e := codes.As(err); e != nil && e.Code == codes.NotWritten && nothingDone < sent {
								// An earlier copy reached a storenode and may
								// have been carried out: not certain.
								return nil, codes.New(codes.Unavailable, "%s", e.Message)
							}
							return nil, err
						}
					}
				case notDone:
					nothingDone++
				case deposed:
					// That node did nothing, but the new leader may hold a
					// copy of this very request, so it does not count as a
					// copy that did nothing. A request that must not be
					// sent twice waits for the leader's answer, and is sent
					// again only if the leader stays silent for an attempt
					// timeout (it subscribed after this copy went out).
					if !p.resendable {
						attempt = false
						next.Reset(g.cfg.AttemptTimeout)
						continue
					}
				}
				// Send again after a backoff, unless an answer comes first.
				g.metrics.leaderRetries.Inc()
				attempt = false
				next.Reset(backoff)
				backoff = min(backoff*2, 200*time.Millisecond)
			}
		}
	}
}

// attemptTimeout is how long one copy of a request waits for its answer.
func (g *Gateway) attemptTimeout(p policy) time.Duration {
	if p.resendable {
		return g.cfg.AttemptTimeout
	}
	return time.Hour // the request's deadline ends it first
}

// forward sends the request to whichever storenode leads the store right
// now: only the leader serves the store's leader subjects, so the gateway
// needs no view of the topology. While no node leads the store (an
// election, a restart), NATS answers "no responders" and the gateway sends
// again with backoff until the deadline; if no storenode knows the store at
// all, the answer is store_not_found, and if fewer than a quorum of its
// replicas run (it cannot get a leader now), not_written at once. The
// lookup also wakes the store's replicas where they sleep (a dormant store,
// a quiesced follower of a dead leader); it is asked again each second
// while nobody serves the store, in case that wake was lost.
func (g *Gateway) forward(ctx context.Context, store, op string, data []byte) (*nats.Msg, error) {
	var checked time.Time
	var local func(context.Context, string) (*nats.Msg, bool)
	if g.cfg.Local != nil {
		local = func(ctx context.Context, id string) (*nats.Msg, bool) {
			return g.cfg.Local.ServeLocal(ctx, store, op, data, id)
		}
	}
	return g.exchange(ctx, proto.Leader(store, op), data, policy{
		store:      store,
		resendable: wire.StoreOps[op].Resendable,
		local:      local,
		what:       fmt.Sprintf("store %q has no leader", store),
		noResponders: func(ctx context.Context) error {
			if !checked.IsZero() && time.Since(checked) < lookupAgain {
				return nil
			}
			a, err := g.lookup(ctx, store)
			switch {
			case errors.Is(err, errRegistryBusy):
				return nil // ask again after the backoff
			case err != nil:
				return err
			case !a.Exists:
				return codes.New(codes.StoreNotFound, "store %q does not exist", store)
			case a.Status == wire.StatusRemoving:
				return codes.New(codes.StoreRemoving, "store %q is being removed", store)
			case a.NoQuorum:
				// No leader can be elected until its nodes come back:
				// waiting for one until the deadline would only delay the answer.
				return codes.New(codes.NotWritten, "store %q has no leader: %d of its %d replicas run, fewer than a quorum", store, a.Running, a.Replicas)
			}
			checked = time.Now()
			return nil
		},
	})
}

// lookupAgain is how long a request waiting for a store's leader goes
// before it looks the store up again.
const lookupAgain = time.Second

// forwardTo sends a request to an internal subject (the registry, the
// cluster), sending it again while nobody serves it (e.g. during an
// election) until the deadline; reads are resendable.
func (g *Gateway) forwardTo(ctx context.Context, subject string, data []byte, read bool, what string) (*nats.Msg, error) {
	return g.exchange(ctx, subject, data, policy{resendable: read, what: what})
}

func (g *Gateway) lookup(ctx context.Context, store string) (proto.RegistryAnswer, error) {
	var a proto.RegistryAnswer
	msg, err := g.exchange(ctx, proto.RegistryLookup, []byte(store), policy{
		resendable:   true,
		what:         "no storenode is reachable",
		noResponders: func(context.Context) error { return codes.New(codes.NotWritten, "no storenode is reachable") },
	})
	if err != nil {
		return a, err
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

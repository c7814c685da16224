// Package client is the Go client of Logbook. It speaks the protocol in
// schemas/ over any NATS connection:
//
//	c, err := client.Connect("nats://127.0.0.1:4222")
//	store := c.Store("default")
//	res, err := store.Append(ctx, "order-42", client.NoStream, client.Event{Type: "OrderPlaced", Data: b})
//	page, err := store.Read(ctx, "order-42", client.ReadOptions{})
//	sub, err := store.Subscribe(ctx, 0, client.SubscribeFilter{Category: "order"}, func(e *client.RecordedEvent) { … })
//
// Subscribe (subscribe.go) is a catch-up subscription: history, then live
// events (schemas/live-events.md), each event once and in order.
//
// Errors are *codes.Error; compare them with errors.Is against the sentinels
// re-exported here (client.ErrWrongExpectedRevision, …) or inspect them with
// errors.As.
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Client is a connection to Logbook. It is safe for concurrent use.
type Client struct {
	nc      *nats.Conn
	ownConn bool
	opts    options
}

type options struct {
	timeout  time.Duration
	attempt  time.Duration
	natsOpts []nats.Option
	retry    bool
}

// Option configures a Client.
type Option func(*options)

// WithTimeout sets the deadline used when a call's context has none. Default
// 15s: longer than a gateway's own deadline (10s), so that the gateway's
// typed answer (timeout, unavailable) arrives before the client gives up.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithAttemptTimeout bounds one attempt of a request that is safe to send
// again (appends, whose events all carry ids, stream deletes and reads: the
// operations wire.StoreOps marks Resendable); when it passes
// without an answer, the request is sent again within the call's deadline.
// The gateway already resends these after 1s without a storenode's answer
// (a leader that died or froze with the request in hand); this attempt
// timeout covers a gateway that dies with the request. Default 6s; 0 turns
// it off.
func WithAttemptTimeout(d time.Duration) Option { return func(o *options) { o.attempt = d } }

// WithNATSOptions passes options to nats.Connect.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) { o.natsOpts = append(o.natsOpts, opts...) }
}

// WithoutRetry turns off the automatic retry of requests that failed with a
// retryable error (not_written, unavailable, timeout, no gateway). It is on
// by default: appends are safe to retry because the client gives every
// event an id, and not_written is safe to retry for every operation. Even
// without it, the gateway retries inside the cluster (elections, leadership
// moves, a leader lost with the request), so a one-shot client sees an
// error only when the store stays unavailable until the deadline.
func WithoutRetry() Option { return func(o *options) { o.retry = false } }

func buildOptions(opts []Option) options {
	o := options{timeout: 15 * time.Second, attempt: 6 * time.Second, retry: true}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Connect connects to the NATS server at url.
func Connect(url string, opts ...Option) (*Client, error) {
	o := buildOptions(opts)
	nc, err := nats.Connect(url, o.natsOpts...)
	if err != nil {
		return nil, fmt.Errorf("logbook: connect: %w", err)
	}
	return &Client{nc: nc, ownConn: true, opts: o}, nil
}

// New uses an existing NATS connection, which the caller keeps owning.
func New(nc *nats.Conn, opts ...Option) *Client {
	return &Client{nc: nc, opts: buildOptions(opts)}
}

// Close closes the connection if Connect opened it.
func (c *Client) Close() {
	if c.ownConn {
		c.nc.Close()
	}
}

// Conn returns the underlying NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Store returns a handle on one store. It does not check that the store exists.
func (c *Client) Store(id string) *Store { return &Store{c: c, id: id} }

// Store is a handle on one store.
type Store struct {
	c  *Client
	id string
}

// ID is the store's id.
func (s *Store) ID() string { return s.id }

// request sends req to op of this store.
func (s *Store) request(ctx context.Context, op string, req, out any) error {
	if err := wire.ValidateStoreID(s.id); err != nil {
		return err
	}
	return s.send(ctx, subjects.Store(s.id, op), op, req, out)
}

// send sends req to subject and decodes the reply into out, retrying
// retryable failures with backoff until the context's deadline.
func (s *Store) send(ctx context.Context, subject, op string, req, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.c.opts.timeout)
		defer cancel()
	}
	data, err := wire.Marshal(req)
	if err != nil {
		return codes.New(codes.InvalidArgument, "%v", err)
	}
	backoff := 10 * time.Millisecond
	for {
		err := s.attempt(ctx, subject, op, data, out)
		if err == nil || !s.c.opts.retry || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// attempt sends the request once; an operation of wire.StoreOps marked
// Resendable gets an attempt timeout, after which send may send it again.
func (s *Store) attempt(ctx context.Context, subject, op string, data []byte, out any) error {
	if !s.c.opts.retry || s.c.opts.attempt <= 0 || !wire.StoreOps[op].Resendable {
		return s.once(ctx, subject, op, data, out)
	}
	actx, cancel := context.WithTimeout(ctx, s.c.opts.attempt)
	defer cancel()
	return s.once(actx, subject, op, data, out)
}

func (s *Store) once(ctx context.Context, subject, op string, data []byte, out any) error {
	msg, err := s.c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrMaxPayload):
			return fmt.Errorf("logbook: %w", codes.New(codes.RequestTooLarge, "request of %d bytes is over the NATS server's max_payload", len(data)))
		case errors.Is(err, nats.ErrNoResponders):
			return fmt.Errorf("logbook: %w", codes.New(codes.NotWritten, "no Logbook gateway is reachable"))
		case ctx.Err() != nil || errors.Is(err, nats.ErrTimeout):
			return fmt.Errorf("logbook: %w", codes.New(codes.Timeout, "no answer before the deadline"))
		}
		return fmt.Errorf("logbook: %w", codes.New(codes.Unavailable, "%v", err))
	}
	if e := wire.ErrorFromMsg(msg); e != nil {
		return fmt.Errorf("logbook: %w", e)
	}
	if err := wire.UnmarshalReply(msg.Data, out); err != nil {
		return fmt.Errorf("logbook: bad reply to %s: %w", op, err)
	}
	return nil
}

func retryable(err error) bool {
	var e *codes.Error
	return errors.As(err, &e) && e.Code.Retryable()
}

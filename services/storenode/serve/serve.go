// Package serve runs the storenode's NATS request handlers: each request on
// a goroutine of its own (kept a while for the next one), a bounded number at once, under a deadline, and
// always answered — with the handler's reply, or an error in the
// Nats-Service-Error(-Code) headers with an ErrorReply body.
package serve

import (
	"context"
	"sync"
	"time"

	"github.com/logbookdb/logbook/internal/workers"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Handler answers one request: a reply to encode, or an error.
type Handler func(ctx context.Context, m *nats.Msg) (any, error)

// Server bounds and tracks the requests in flight. Its zero value is not
// usable: see New.
type Server struct {
	ctx      context.Context // cancelled by Stop: ends the requests' contexts
	cancel   context.CancelFunc
	inflight chan struct{}
	workers  *workers.Pool // the requests' goroutines, kept to serve the next ones

	mu       sync.Mutex
	closing  bool
	requests sync.WaitGroup
}

// workerIdle is how long a request's goroutine waits for the next request
// before it exits (internal/workers: a kept goroutine keeps its grown stack).
const workerIdle = 2 * time.Second

// New returns a server that runs at most max requests at once.
func New(max int) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{ctx: ctx, cancel: cancel, inflight: make(chan struct{}, max), workers: workers.New(workerIdle)}
}

// Handle returns a NATS message handler that serves m with h under timeout.
// A request runs on its own goroutine, so that one slow request never holds
// up the subscription; when max requests are running it blocks, which
// pushes back on NATS (and so on the clients). Once the server is closing,
// requests are refused with not_written.
func (s *Server) Handle(timeout time.Duration, h Handler) nats.MsgHandler {
	return func(m *nats.Msg) { s.Dispatch(m, timeout, h) }
}

// Dispatch serves one message with h under timeout (see Handle).
func (s *Server) Dispatch(m *nats.Msg, timeout time.Duration, h Handler) {
	if !s.admit(context.Background()) {
		Respond(m, nil, codes.New(codes.NotWritten, "storenode is stopping"))
		return
	}
	s.workers.Go(func() {
		defer s.release()
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		defer cancel()
		v, err := h(ctx, m)
		Respond(m, v, err)
	})
}

// admit takes a place for one request, waiting while max are running; it
// is false when the server is stopping or closing, or ctx ends first. An
// admitted request ends with release.
func (s *Server) admit(ctx context.Context) bool {
	select {
	case s.inflight <- struct{}{}:
	case <-s.ctx.Done():
		return false
	case <-ctx.Done():
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		<-s.inflight
		return false
	}
	s.requests.Add(1)
	return true
}

func (s *Server) release() {
	<-s.inflight
	s.requests.Done()
}

// Drain refuses new requests and waits for those in flight, which are
// bounded by their timeouts.
func (s *Server) Drain() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.requests.Wait()
}

// Stop cancels the context of any request still running and waits for the
// requests' goroutines to end. Call after Drain.
func (s *Server) Stop() {
	s.cancel()
	s.workers.Close()
}

// Respond answers m with v, or with err as a typed error. An answer that
// cannot be published (over the NATS server's max_payload) becomes an error,
// and an error that cannot be published falls back to its code alone, so
// that a requester never waits out its deadline for nothing.
func Respond(m *nats.Msg, v any, err error) {
	if m.Reply == "" {
		return
	}
	if err == nil {
		var b []byte
		if b, err = wire.Marshal(v); err == nil {
			if err = m.Respond(b); err == nil {
				return
			}
			err = codes.New(codes.Internal, "reply of %d bytes could not be sent: %v", len(b), err)
		}
	}
	wire.PublishError(m.RespondMsg, m.Reply, err)
}

// Reply is the answer to a request, as Respond would publish it: v encoded,
// or err in the error headers and body (as is an error encoding v). It has
// no subject.
func Reply(v any, err error) *nats.Msg {
	if err == nil {
		b, mErr := wire.Marshal(v)
		if mErr == nil {
			return &nats.Msg{Data: b}
		}
		err = mErr
	}
	return wire.ErrorReplyMsg("", err)
}

// Call serves one request with h under timeout in the caller's goroutine,
// within the server's bounds like a dispatched request: it counts toward
// max, Drain waits for it, and Stop ends its context. ok is false, and h is
// not run, when the server is closing or ctx ends while max requests are
// running. The request's context also ends with ctx.
func (s *Server) Call(ctx context.Context, timeout time.Duration, h func(context.Context) (any, error)) (v any, err error, ok bool) {
	if !s.admit(ctx) {
		return nil, nil, false
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	v, err = h(ctx)
	return v, err, true
}

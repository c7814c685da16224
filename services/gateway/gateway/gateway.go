// Package gateway is Logbook's stateless front door: a NATS micro service in
// a queue group that validates client requests on store.<store>.<op> and
// forwards them to the storenode leading the store. See DESIGN.md.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/version"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Config configures a gateway.
type Config struct {
	// NATS is the connection to serve on; the caller owns it.
	NATS *nats.Conn
	// Limits are checked before a request is forwarded.
	Limits wire.Limits
	// RequestTimeout bounds a request end to end, including waiting for a
	// store to get a leader. Default 10s; keep it above the storenodes'.
	RequestTimeout time.Duration
	// MaxInFlight bounds requests served at once. Default 4096.
	MaxInFlight int
	// Version is reported in $SRV.INFO. Default: this build's version
	// (pkg/version), as a semantic version.
	Version string
	Logger  *slog.Logger
}

// Gateway is a running gateway.
type Gateway struct {
	cfg      Config
	svc      micro.Service
	ctx      context.Context
	cancel   context.CancelFunc
	inflight chan struct{}
	mu       sync.Mutex
	stopping bool // under mu: requests still delivered are refused
	wg       sync.WaitGroup
}

// Start joins the gateway queue group and starts serving.
func Start(cfg Config) (*Gateway, error) {
	if cfg.NATS == nil {
		return nil, errors.New("gateway: NATS connection is required")
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.Version == "" {
		cfg.Version = version.SemVer()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, ctx: ctx, cancel: cancel, inflight: make(chan struct{}, cfg.MaxInFlight)}
	svc, err := micro.AddService(cfg.NATS, micro.Config{
		Name:        subjects.ServiceName,
		Version:     cfg.Version,
		Description: "Logbook event store gateway",
		QueueGroup:  subjects.GatewayQueue,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gateway: add service: %w", err)
	}
	err = svc.AddEndpoint("store", micro.HandlerFunc(g.onRequest),
		micro.WithEndpointSubject(subjects.StoreWildcard),
		micro.WithEndpointPendingLimits(64<<10, 256<<20))
	if err == nil {
		err = svc.AddEndpoint("stores", micro.HandlerFunc(g.onRequest),
			micro.WithEndpointSubject(subjects.StoresWildcard),
			micro.WithEndpointPendingLimits(64<<10, 256<<20))
	}
	if err == nil {
		err = svc.AddEndpoint("cluster", micro.HandlerFunc(g.onRequest),
			micro.WithEndpointSubject(subjects.ClusterWildcard))
	}
	if err != nil {
		svc.Stop()
		cancel()
		return nil, fmt.Errorf("gateway: add endpoint: %w", err)
	}
	g.svc = svc
	return g, nil
}

// WaitReady returns once the gateway's subscriptions have reached the NATS
// server (a round trip), so that a request sent afterwards is served rather
// than answered "no responders"; it waits while NATS is unreachable, until
// ctx ends.
func (g *Gateway) WaitReady(ctx context.Context) error {
	for {
		err := g.cfg.NATS.FlushTimeout(time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: subscriptions not confirmed by NATS: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop leaves the queue group, lets the requests in flight finish, and
// returns. Requests NATS still delivers after that are refused with
// unavailable (nothing was forwarded, so retrying elsewhere is safe).
func (g *Gateway) Stop() error {
	g.mu.Lock()
	g.stopping = true
	g.mu.Unlock()
	err := g.svc.Stop()
	g.wg.Wait()
	g.cancel()
	if err != nil {
		return fmt.Errorf("gateway: stop: %w", err)
	}
	return nil
}

// onRequest runs on the endpoint's subscription goroutine: it hands the
// request to a goroutine of its own so that slow requests don't queue behind
// each other, blocking when MaxInFlight are already running.
func (g *Gateway) onRequest(req micro.Request) {
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		g.replyError(req, codes.New(codes.Unavailable, "gateway is stopping"))
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	g.inflight <- struct{}{}
	go func() {
		defer func() { <-g.inflight; g.wg.Done() }()
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.RequestTimeout)
		defer cancel()
		g.serve(ctx, req)
	}()
}

func (g *Gateway) serve(ctx context.Context, req micro.Request) {
	if op, ok := subjects.ParseStores(req.Subject()); ok {
		g.serveLifecycle(ctx, req, op)
		return
	}
	if op, ok := subjects.ParseCluster(req.Subject()); ok {
		g.serveCluster(ctx, req, op)
		return
	} else if op != "" {
		g.replyError(req, codes.New(codes.UnknownOperation, "unknown cluster operation %q; known: %v", wire.Truncate(op), subjects.ClusterOps))
		return
	}
	store, op, ok := subjects.ParseStore(req.Subject())
	if !ok {
		g.replyError(req, codes.New(codes.UnknownOperation, "subject %q is not store.<store>.<operation>", wire.Truncate(req.Subject())))
		return
	}
	if err := wire.ValidateStoreID(store); err != nil {
		g.replyError(req, err)
		return
	}
	if err := wire.DecodeRequest(op, req.Data(), g.cfg.Limits); err != nil { // unknown_operation too
		g.replyError(req, err)
		return
	}
	msg, err := g.forward(ctx, store, op, req.Data())
	g.relay(req, msg, err)
}

// serveLifecycle validates a stores.<op> request and forwards it: writes to
// the meta shard's leader, reads to any storenode.
func (g *Gateway) serveLifecycle(ctx context.Context, req micro.Request, op string) {
	if err := wire.DecodeStoresRequest(op, req.Data(), g.cfg.Limits); err != nil {
		g.replyError(req, err)
		return
	}
	subject := proto.MetaRead(op)
	if subjects.IsStoresWrite(op) {
		subject = proto.Meta(op)
	}
	msg, err := g.forwardTo(ctx, subject, req.Data(), "the store registry has no leader")
	g.relay(req, msg, err)
}

// serveCluster forwards cluster.view and cluster.health to any storenode;
// cluster.remove_node goes to the meta leader.
func (g *Gateway) serveCluster(ctx context.Context, req micro.Request, op string) {
	if subjects.IsClusterWrite(op) {
		if _, err := wire.DecodeRemoveNode(req.Data(), g.cfg.Limits); err != nil {
			g.replyError(req, err)
			return
		}
		msg, err := g.forwardTo(ctx, proto.Meta(op), req.Data(), "the store registry has no leader")
		g.relay(req, msg, err)
		return
	}
	if err := wire.DecodeClusterRequest(req.Data(), g.cfg.Limits); err != nil {
		g.replyError(req, err)
		return
	}
	msg, err := g.forwardTo(ctx, proto.MetaRead(proto.ClusterReadOp(op)), req.Data(), "no storenode answers")
	g.relay(req, msg, err)
}

// relay answers the client with the storenode's reply or error. A reply that
// cannot be published (over the NATS server's max_payload, say) is answered
// with an error instead: the client always hears back.
func (g *Gateway) relay(req micro.Request, msg *nats.Msg, err error) {
	if err != nil {
		g.replyError(req, err)
		return
	}
	if e := wire.ErrorFromMsg(msg); e != nil {
		h := nats.Header{wire.HeaderError: []string{msg.Header.Get(wire.HeaderError)}, wire.HeaderErrorCode: []string{msg.Header.Get(wire.HeaderErrorCode)}}
		if g.send(req, &nats.Msg{Header: h, Data: msg.Data}) != nil {
			g.replyError(req, e)
		}
		return
	}
	if err := g.send(req, &nats.Msg{Data: msg.Data}); err != nil {
		g.replyError(req, codes.New(codes.Internal, "reply of %d bytes could not be sent: %v", len(msg.Data), err))
	}
}

// replyError answers with err, or with its code alone when the full error
// reply cannot be published.
func (g *Gateway) replyError(req micro.Request, err error) {
	if req.Reply() == "" {
		return
	}
	if pErr := wire.PublishError(g.cfg.NATS.PublishMsg, req.Reply(), err); pErr != nil {
		g.cfg.Logger.Warn("gateway: no reply could be sent", "subject", wire.Truncate(req.Subject()), "error", pErr)
	}
}

// send publishes m to the request's reply subject. It does not go through
// req.Respond/req.Error: those record their outcome in the request, which
// the micro service reads once the handler returns, and the gateway answers
// on its own goroutine after that (a data race). The price is that
// $SRV.STATS does not count errors.
func (g *Gateway) send(req micro.Request, m *nats.Msg) error {
	if req.Reply() == "" {
		return nil
	}
	m.Subject = req.Reply()
	return g.cfg.NATS.PublishMsg(m)
}

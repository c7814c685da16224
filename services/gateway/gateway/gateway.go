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
	"github.com/logbookdb/logbook/internal/workers"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/version"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
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
	// AttemptTimeout is how long the gateway waits for a storenode's answer
	// to a request that is safe to send twice (reads, appends) before it
	// sends it again: a leader that died or froze with the request in hand
	// costs this much. Default 1s; it must stay well above the slowest
	// normal answer (a second copy is harmless, but it is work).
	AttemptTimeout time.Duration
	// MaxInFlight bounds requests served at once. Default 4096.
	MaxInFlight int
	// Version is reported in $SRV.INFO. Default: this build's version
	// (pkg/version), as a semantic version.
	Version string
	// Metrics, if set, is where the gateway's metrics are registered (a
	// process that runs other parts shares one registry); otherwise they
	// are on a registry of their own, with the Go and process collectors.
	Metrics *prometheus.Registry
	// Accounts, if not empty, are the NATS accounts allowed to reach
	// Logbook through a service import and their stores (access.go,
	// docs/security.md). Empty: requests are not checked by account.
	Accounts Accounts
	// Local, if set, is a storenode in the gateway's own process (the
	// embedded single process): a store request it leads the store for is
	// served there, without the round trip through the NATS server to the
	// leader and back. Others go through NATS.
	Local  Local
	Logger *slog.Logger
}

// Local serves store requests in the gateway's process when its storenode
// leads the store (a *node.Node).
type Local interface {
	// ServeLocal answers a request for operation op of store, with the
	// request id the storenodes derive id-less events' ids from
	// (proto.HeaderRequestID), as the store's leader would over NATS; ok
	// is false when this process does not lead the store now, and nothing
	// was done.
	ServeLocal(ctx context.Context, store, op string, data []byte, requestID string) (reply *nats.Msg, ok bool)
}

// Gateway is a running gateway.
type Gateway struct {
	cfg      Config
	svc      *service
	replies  *replies
	metrics  *metrics
	ctx      context.Context
	cancel   context.CancelFunc
	inflight chan struct{}
	workers  *workers.Pool // the requests' goroutines, kept to serve the next ones
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
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = time.Second
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
	rep, err := newReplies(cfg.NATS)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, replies: rep, metrics: newMetrics(cfg.Metrics), ctx: ctx, cancel: cancel, inflight: make(chan struct{}, cfg.MaxInFlight), workers: workers.New(workerIdle)}
	g.svc = newService(cfg.NATS, subjects.ServiceName, cfg.Version, "Logbook event store gateway")
	err = g.svc.addEndpoint("store", subjects.StoreWildcard, subjects.GatewayQueue, 64<<10, 256<<20, g.onRequest)
	if err == nil {
		err = g.svc.addEndpoint("stores", subjects.StoresWildcard, subjects.GatewayQueue, 64<<10, 256<<20, g.onRequest)
	}
	if err == nil {
		err = g.svc.addEndpoint("cluster", subjects.ClusterWildcard, subjects.GatewayQueue, 0, 0, g.onRequest)
	}
	if err == nil {
		err = g.svc.serveVerbs()
	}
	if err != nil {
		g.svc.stop()
		rep.stop()
		cancel()
		return nil, fmt.Errorf("gateway: %w", err)
	}
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
	err := g.svc.stop()
	g.wg.Wait()
	g.cancel()
	g.workers.Close()
	err = errors.Join(err, g.replies.stop())
	if err != nil {
		return fmt.Errorf("gateway: stop: %w", err)
	}
	return nil
}

// onRequest runs on the endpoint's subscription goroutine: it hands the
// request to a goroutine of its own (a pooled one, kept for the next
// request) so that slow requests don't queue behind each other, blocking
// when MaxInFlight are already running. That goroutine
// answers and then records the outcome and the full time (service.go).
func (g *Gateway) onRequest(e *endpoint, m *nats.Msg) {
	if m.Reply != "" && !wire.IsInboxSubject(m.Reply) && !subjects.IsServiceImportReply(m.Reply) {
		// Answering would publish, with Logbook's own permissions, to a
		// subject the client chose and may not publish to itself (another
		// store's internal subjects, another tenant's inbox): not served.
		// A request that crossed a service import has a reply subject NATS
		// made (_R_.…), which routes the answer back to the requester.
		g.metrics.badReply.Inc()
		g.cfg.Logger.Debug("gateway: request with a reply subject outside the inboxes dropped", "subject", wire.Truncate(m.Subject), "reply", wire.Truncate(m.Reply))
		return
	}
	start := time.Now()
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		g.finish(e, m, start, g.metrics.op(opUnknown), nil, codes.New(codes.NotWritten, "gateway is stopping"))
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	g.inflight <- struct{}{}
	g.workers.Go(func() {
		defer func() { <-g.inflight; g.wg.Done() }()
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.RequestTimeout)
		defer cancel()
		who := callerOf(m)
		op, reply, err := g.serve(ctx, m, who)
		if ce := codes.As(err); ce != nil && ce.Code == codes.Forbidden {
			g.refused(m, who, err)
		}
		ce := g.finish(e, m, start, op, reply, err)
		g.audit(m, who, ce)
	})
}

// workerIdle is how long a request's goroutine waits for the next request
// before it exits (internal/workers: a kept goroutine keeps its grown stack,
// which a fresh one copies as the request's decoding grows it).
const workerIdle = 2 * time.Second

// finish answers the request and records its outcome: in the endpoint's
// $SRV.STATS and in the metrics. It returns the error answered, if any.
func (g *Gateway) finish(e *endpoint, m *nats.Msg, start time.Time, op *opMetrics, reply *nats.Msg, err error) *codes.Error {
	ce := g.answer(m, reply, err)
	d := time.Since(start)
	errText := ""
	if ce != nil {
		errText = ce.Code.Name() + ": " + ce.Message
	}
	e.record(d, errText)
	g.metrics.observe(op, d, ce)
	return ce
}

// serve validates a request and forwards it: it returns the operation (for
// the metrics) and the storenode's reply, or the error to answer. A caller
// known by its account is checked against Config.Accounts first.
func (g *Gateway) serve(ctx context.Context, m *nats.Msg, who caller) (*opMetrics, *nats.Msg, error) {
	if op, ok := subjects.ParseStores(m.Subject); ok {
		if err := g.cfg.Accounts.check(who, ""); err != nil {
			return g.metrics.op("stores." + op), nil, err
		}
		reply, err := g.serveLifecycle(ctx, m, op)
		return g.metrics.op("stores." + op), reply, err
	}
	if op, ok := subjects.ParseCluster(m.Subject); ok {
		if err := g.cfg.Accounts.check(who, ""); err != nil {
			return g.metrics.op("cluster." + op), nil, err
		}
		reply, err := g.serveCluster(ctx, m, op)
		return g.metrics.op("cluster." + op), reply, err
	} else if op != "" {
		return g.metrics.op(opUnknown), nil, codes.New(codes.UnknownOperation, "unknown cluster operation %q; known: %v", wire.Truncate(op), subjects.ClusterOps)
	}
	store, op, ok := subjects.ParseStore(m.Subject)
	if !ok {
		return g.metrics.op(opUnknown), nil, codes.New(codes.UnknownOperation, "subject %q is not store.<store>.<operation>", wire.Truncate(m.Subject))
	}
	o := g.metrics.op(op)
	if err := wire.ValidateStoreID(store); err != nil {
		return o, nil, err
	}
	if err := g.cfg.Accounts.check(who, store); err != nil {
		return o, nil, err
	}
	if lop, ok := subjects.StoreRegistryReads[op]; ok {
		reply, err := g.serveStoreRead(ctx, m, store, lop)
		return o, reply, err
	}
	if err := wire.DecodeRequest(op, m.Data, g.cfg.Limits); err != nil { // unknown_operation too
		return o, nil, err
	}
	reply, err := g.forward(ctx, store, op, m.Data)
	return o, reply, err
}

// serveStoreRead serves store.<store>.status and .config: the lifecycle read
// lop of the store named in the subject, answered by any storenode.
func (g *Gateway) serveStoreRead(ctx context.Context, m *nats.Msg, store, lop string) (*nats.Msg, error) {
	if err := wire.DecodeClusterRequest(m.Data, g.cfg.Limits); err != nil { // an empty body or map
		return nil, err
	}
	data, err := wire.Marshal(&wire.StoreRequest{Store: store})
	if err != nil {
		return nil, codes.New(codes.Internal, "%v", err)
	}
	return g.forwardTo(ctx, proto.MetaRead(lop), data, true, "no storenode answers")
}

// serveLifecycle validates a stores.<op> request and forwards it: writes to
// the meta shard's leader, reads to any storenode.
func (g *Gateway) serveLifecycle(ctx context.Context, m *nats.Msg, op string) (*nats.Msg, error) {
	if err := wire.DecodeStoresRequest(op, m.Data, g.cfg.Limits); err != nil {
		return nil, err
	}
	subject := proto.MetaRead(op)
	if subjects.IsStoresWrite(op) {
		subject = proto.Meta(op)
	}
	return g.forwardTo(ctx, subject, m.Data, !subjects.IsStoresWrite(op), "the store registry has no leader")
}

// serveCluster forwards cluster.view and cluster.health to any storenode;
// cluster.remove_node goes to the meta leader.
func (g *Gateway) serveCluster(ctx context.Context, m *nats.Msg, op string) (*nats.Msg, error) {
	if subjects.IsClusterWrite(op) {
		if err := wire.DecodeClusterWrite(op, m.Data, g.cfg.Limits); err != nil {
			return nil, err
		}
		return g.forwardTo(ctx, proto.Meta(op), m.Data, false, "the store registry has no leader")
	}
	if err := wire.DecodeClusterRequest(m.Data, g.cfg.Limits); err != nil {
		return nil, err
	}
	return g.forwardTo(ctx, proto.MetaRead(proto.ClusterReadOp(op)), m.Data, true, "no storenode answers")
}

// answer answers the client with the storenode's reply or error, and
// returns the error answered (nil for a reply). A reply that cannot be
// published (over the NATS server's max_payload, say) is answered with an
// error instead: the client always hears back.
func (g *Gateway) answer(m *nats.Msg, reply *nats.Msg, err error) *codes.Error {
	if err != nil {
		return g.replyError(m, err)
	}
	if e := wire.ErrorFromMsg(reply); e != nil {
		h := nats.Header{wire.HeaderError: []string{reply.Header.Get(wire.HeaderError)}, wire.HeaderErrorCode: []string{reply.Header.Get(wire.HeaderErrorCode)}}
		if g.send(m, &nats.Msg{Header: h, Data: reply.Data}) != nil {
			return g.replyError(m, e)
		}
		return e
	}
	if err := g.send(m, &nats.Msg{Data: reply.Data}); err != nil {
		return g.replyError(m, codes.New(codes.Internal, "reply of %d bytes could not be sent: %v", len(reply.Data), err))
	}
	return nil
}

// replyError answers with err, or with its code alone when the full error
// reply cannot be published; it returns err as a Logbook error.
func (g *Gateway) replyError(m *nats.Msg, err error) *codes.Error {
	if m.Reply != "" {
		if pErr := wire.PublishError(g.cfg.NATS.PublishMsg, m.Reply, err); pErr != nil {
			g.cfg.Logger.Warn("gateway: no reply could be sent", "subject", wire.Truncate(m.Subject), "error", pErr)
		}
	}
	return codes.As(err)
}

// send publishes r to the request's reply subject.
func (g *Gateway) send(m *nats.Msg, r *nats.Msg) error {
	if m.Reply == "" {
		return nil
	}
	r.Subject = m.Reply
	return g.cfg.NATS.PublishMsg(r)
}

// Package embed runs a whole Logbook in one process: an embedded NATS server
// (or a connection to an external one), a storenode and a gateway. The
// logbook binary and the integration tests both start Logbook through it.
package embed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Logbook is a running embedded Logbook.
type Logbook struct {
	cfg     Config
	ns      *server.Server // nil when connected to an external NATS
	nc      *nats.Conn
	node    *node.Node
	gateway *gateway.Gateway
	url     string
	http    *http.Server // nil unless Config.HTTPAddress
	httpLn  net.Listener
}

// Start starts Logbook and returns when the registry has a leader, the
// default and configured stores exist, every store hosted here is served,
// and the gateway's subscriptions have reached the NATS server.
func Start(ctx context.Context, cfg Config) (lb *Logbook, err error) {
	cfg.setDefaults()
	l := &Logbook{cfg: cfg}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	// 1. NATS: the only endpoint clients need.
	if cfg.NATSURL != "" && cfg.NATSConfigFile != "" {
		return nil, errors.New("logbook: a NATS configuration file is for the embedded server, and a NATS URL means none is embedded: give one or the other")
	}
	if cfg.NATSURL != "" {
		l.url = cfg.NATSURL
	} else if err := l.startNATS(); err != nil {
		return nil, err
	}
	if l.nc, err = l.connect(); err != nil {
		return nil, err
	}
	// Replies must fit in a NATS message: read pages stop early to stay
	// under max_payload (less room for headers). Requests over it are
	// refused by NATS itself, so say so.
	if room := int(l.nc.MaxPayload()) - 64<<10; cfg.Limits.MaxReplySize > room {
		cfg.Logger.Warn("lowering max_reply_size to fit the NATS server's max_payload", "max_payload", l.nc.MaxPayload(), "max_reply_size", room)
		cfg.Limits.MaxReplySize = room
	}
	if mp := l.nc.MaxPayload(); mp < int64(cfg.Limits.MaxRequestSize) {
		cfg.Logger.Warn("the NATS server's max_payload is below max_request_size: larger requests will be refused by NATS itself",
			"max_payload", mp, "max_request_size", cfg.Limits.MaxRequestSize)
	}
	// 2. The storenode with a replica of the default store.
	l.node, err = node.Start(node.Config{
		NodeID:                  cfg.NodeID,
		RaftAddress:             cfg.RaftAddress,
		ListenAddress:           cfg.RaftListen,
		RaftTLS:                 cfg.RaftTLS,
		ClusterName:             cfg.ClusterName,
		InitialSize:             cfg.InitialSize,
		DataDir:                 filepath.Join(cfg.DataDir, "storenode"),
		NATS:                    l.nc,
		DefaultStore:            cfg.StoreID,
		StaticStores:            cfg.Stores,
		MaxStores:               cfg.MaxStores,
		MaxReplicas:             cfg.MaxReplicas,
		StoreSnapshotEntries:    cfg.StoreSnapshotEntries,
		StoreCompactionOverhead: cfg.StoreCompactionOverhead,
		MetricsStoreLimit:       cfg.MetricsStoreLimit,
		HibernateAfter:          cfg.HibernateAfter,
		MaxRunningReplicas:      cfg.MaxRunningReplicas,
		Limits:                  cfg.Limits,
		RequestTimeout:          cfg.RequestTimeout,
		Logger:                  cfg.Logger.With("component", "storenode"),
	})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := l.node.WaitReady(rctx); err != nil {
		return nil, err
	}
	// 3. The gateway: from now on clients are served.
	l.gateway, err = gateway.Start(gateway.Config{
		NATS:           l.nc,
		Limits:         cfg.Limits,
		RequestTimeout: 2 * cfg.RequestTimeout,
		Metrics:        l.node.MetricsRegistry(),
		Accounts:       cfg.GatewayAccounts,
		Local:          l.node, // the stores this process leads skip a NATS round trip
		Logger:         cfg.Logger.With("component", "gateway"),
	})
	if err != nil {
		return nil, err
	}
	if err := l.gateway.WaitReady(rctx); err != nil {
		return nil, err
	}
	// 4. Metrics, if asked for.
	if cfg.HTTPAddress != "" {
		if err := l.serveHTTP(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// serveHTTP serves /metrics on Config.HTTPAddress: one registry holds the
// storenode's and the gateway's series.
func (l *Logbook) serveHTTP() error {
	ln, err := net.Listen("tcp", l.cfg.HTTPAddress)
	if err != nil {
		return fmt.Errorf("logbook: -http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", l.gateway.MetricsHandler())
	l.httpLn, l.http = ln, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { // owned by l: closed by Close
		if err := l.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.cfg.Logger.Error("metrics endpoint", "err", err)
		}
	}()
	return nil
}

// HTTPAddr is the address /metrics is served on ("" without
// Config.HTTPAddress); with port 0 asked for, the port chosen.
func (l *Logbook) HTTPAddr() string {
	if l.httpLn == nil {
		return ""
	}
	return l.httpLn.Addr().String()
}

func (l *Logbook) startNATS() error {
	opts, err := l.cfg.serverOptions()
	if err != nil {
		return err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("logbook: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{l.cfg.Logger.With("component", "nats")}, opts.Debug, opts.Trace, opts.TraceVerbose)
	go ns.Start() // owned by l: stopped by Shutdown in Close
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("logbook: embedded NATS did not start listening on %s:%d", opts.Host, opts.Port)
	}
	l.ns = ns
	l.url = ns.ClientURL()
	return nil
}

// Done is closed when the storenode stops by itself because it can never
// serve again (Err says why: the cluster removed it) or is closed.
func (l *Logbook) Done() <-chan struct{} { return l.node.Done() }

// Err is why the storenode can never serve, or nil.
func (l *Logbook) Err() error { return l.node.Fatal() }

// ClientURL is the NATS URL clients connect to.
func (l *Logbook) ClientURL() string { return l.url }

// StoreID is the id of the default store.
func (l *Logbook) StoreID() string { return l.cfg.StoreID }

// Close shuts Logbook down in order: the gateway stops taking requests and
// finishes those in flight; the storenode does the same and closes Raft and
// the stores; then the NATS connection and server go.
func (l *Logbook) Close() error {
	if l.http != nil {
		l.http.Close()
	}
	if l.gateway != nil {
		l.gateway.Stop()
	}
	if l.node != nil {
		l.node.Close()
	}
	if l.nc != nil {
		l.nc.Close()
	}
	if l.ns != nil {
		l.ns.Shutdown()
		l.ns.WaitForShutdown()
	}
	return nil
}

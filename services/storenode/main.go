// Command storenode runs one Logbook storenode: replicas of the stores
// placed on it, reached over NATS. Several storenodes form a cluster by
// finding each other on NATS (see docs/operations.md); gateways (the
// gateway command) are the clients' front door.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/internal/pprofflag"
	"github.com/logbookdb/logbook/pkg/flagenv"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/logbookdb/logbook/services/storenode/cli"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/nats-io/nats.go"
)

func main() {
	if err := run(); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "storenode: ") {
			msg = "storenode: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func run() error {
	natsURL := flag.String("nats-url", flagenv.String("LOGBOOK_NATS_URL", nats.DefaultURL), "NATS server(s), comma-separated (env LOGBOOK_NATS_URL)")
	httpAddr := flag.String("http", flagenv.String("LOGBOOK_HTTP", ""), "serve /healthz, /readyz, /cluster, /health and /metrics on this address, e.g. :8080 (env LOGBOOK_HTTP)")
	natsAuth := natsauth.Register(flag.CommandLine)
	flags := cli.Register(flag.CommandLine, "./data/storenode")
	pprofflag.Register(flag.CommandLine, "storenode")
	newLogger := flagenv.Logger(flag.CommandLine)
	flag.Parse()
	logger, err := newLogger()
	if err != nil {
		return err
	}
	cfg, err := flags.Config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// 1. NATS: the storenode's only link to gateways and other storenodes.
	natsOpts, err := natsAuth.ServiceOptions(logger)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(*natsURL, append(natsOpts, nats.Name(fmt.Sprintf("logbook-storenode-%d", cfg.NodeID)),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", *natsURL, err)
	}
	defer nc.Close()
	if err := flagenv.CheckPayload(cfg.Limits, int(nc.MaxPayload())); err != nil && nc.MaxPayload() > 0 {
		logger.Warn("limits exceed the NATS server's max_payload: larger requests are refused by NATS itself", "err", err)
	}
	cfg.NATS = nc
	cfg.Logger = logger

	// 2. The storenode: forms or joins the cluster, then serves its replicas.
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	// 3. Health endpoints for orchestrators.
	var srv *http.Server
	if *httpAddr != "" {
		srv = &http.Server{Addr: *httpAddr, Handler: healthHandler(n), ReadHeaderTimeout: 5 * time.Second}
		go func() { // owned by srv: stopped by Shutdown below
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("health endpoint", "err", err)
			}
		}()
	}
	if err := n.WaitReady(ctx); err != nil && ctx.Err() == nil {
		n.Close()
		return err
	}
	if ctx.Err() == nil {
		logger.Info("storenode ready", "node", cfg.NodeID, "cluster", cfg.ClusterName, "raft", cfg.RaftAddress)
		fmt.Printf("Storenode %d is ready (cluster %q, raft %s)\n", cfg.NodeID, cfg.ClusterName, cfg.RaftAddress)
	}
	// Run until stopped, or until the node can never serve again (the
	// cluster removed it): then exit non-zero, saying why.
	select {
	case <-ctx.Done():
	case <-n.Done():
		if err := n.Fatal(); err != nil {
			if srv != nil {
				srv.Close()
			}
			n.Close() // waits for the node's own shutdown to finish
			return err
		}
	}
	logger.Info("shutting down")
	// Shutdown: health endpoint, then the node (subjects, requests in
	// flight, Raft and stores), then NATS (deferred).
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	return n.Close()
}

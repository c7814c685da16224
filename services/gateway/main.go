// Command gateway runs a Logbook gateway: the stateless front door that
// validates client requests on NATS and forwards them to the storenode
// leading each store. Run as many as you like; they share the queue group.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/internal/pprofflag"
	"github.com/logbookdb/logbook/pkg/flagenv"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/nats-io/nats.go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	natsURL := flag.String("nats-url", flagenv.String("LOGBOOK_NATS_URL", nats.DefaultURL), "NATS server(s), comma-separated (env LOGBOOK_NATS_URL)")
	timeout := flag.Duration("request-timeout", flagenv.Duration("LOGBOOK_GATEWAY_TIMEOUT", 10*time.Second), "bound on a request end to end, waiting for a store's leader included; keep it above the storenodes' -request-timeout (env LOGBOOK_GATEWAY_TIMEOUT)")
	attempt := flag.Duration("attempt-timeout", flagenv.Duration("LOGBOOK_GATEWAY_ATTEMPT_TIMEOUT", time.Second), "how long to wait for a storenode's answer to a read or an append before sending it again (a leader that died or froze with it); keep it well above normal latency (env LOGBOOK_GATEWAY_ATTEMPT_TIMEOUT)")
	httpAddr := flag.String("http", flagenv.String("LOGBOOK_HTTP", ""), "serve /metrics on this address, e.g. :8081 (off by default; env LOGBOOK_HTTP)")
	accounts := flag.String("tenant-accounts", flagenv.String("LOGBOOK_TENANT_ACCOUNTS", ""), "NATS accounts allowed to reach Logbook through a service import, and their stores: ACCOUNT=store[,store...];OPS=* (* also allows stores.* and cluster.*); requests from other accounts are refused with forbidden; empty: no check (env LOGBOOK_TENANT_ACCOUNTS)")
	natsAuth := natsauth.Register(flag.CommandLine)
	var limits wire.Limits
	flagenv.Limits(flag.CommandLine, &limits)
	newLogger := flagenv.Logger(flag.CommandLine)
	pprofflag.Register(flag.CommandLine, "gateway")
	flag.Parse()
	logger, err := newLogger()
	if err != nil {
		return err
	}
	tenantAccounts, err := gateway.ParseAccounts(*accounts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// 1. NATS.
	natsOpts, err := natsAuth.ServiceOptions(logger)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(*natsURL, append(natsOpts, nats.Name("logbook-gateway"),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", *natsURL, err)
	}
	defer nc.Close()
	// 2. The gateway joins the queue group and serves.
	g, err := gateway.Start(gateway.Config{NATS: nc, Limits: limits, RequestTimeout: *timeout, AttemptTimeout: *attempt, Accounts: tenantAccounts, Logger: logger})
	if err != nil {
		return err
	}
	// 3. Metrics for Prometheus.
	if *httpAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", g.MetricsHandler())
		srv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { // owned by srv: closed when run returns
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics endpoint", "err", err)
			}
		}()
		defer srv.Close()
	}
	if err := g.WaitReady(ctx); err != nil {
		g.Stop()
		if ctx.Err() != nil {
			return nil // stopped before it was ready
		}
		return err
	}
	logger.Info("gateway ready", "nats", *natsURL)
	fmt.Println("Gateway is ready.")
	<-ctx.Done()
	// Shutdown: leave the queue group, finish requests in flight, then NATS.
	logger.Info("shutting down")
	return g.Stop()
}

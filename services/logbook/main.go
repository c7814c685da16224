// Command logbook runs Logbook on its single-machine default: an embedded
// NATS server, a gateway and a storenode in one process, data in a local
// folder. With -nats-url it joins an existing NATS instead, and with
// -node-id, -cluster and -initial-size several of them form a cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logbookdb/logbook/internal/pprofflag"
	"github.com/logbookdb/logbook/pkg/flagenv"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/services/storenode/cli"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "logbook:", err)
		os.Exit(1)
	}
}

// natsMaxPayload is the embedded NATS server's max message size.
const natsMaxPayload = 8 << 20

func run() error {
	var (
		natsURL  = flag.String("nats-url", flagenv.String("LOGBOOK_NATS_URL", ""), "use this NATS server instead of embedding one (env LOGBOOK_NATS_URL)")
		natsHost = flag.String("nats-host", flagenv.String("LOGBOOK_NATS_HOST", "127.0.0.1"), "embedded NATS listen host (env LOGBOOK_NATS_HOST)")
		natsPort = flag.Int("nats-port", flagenv.Int("LOGBOOK_NATS_PORT", 4222), "embedded NATS listen port (env LOGBOOK_NATS_PORT)")
		httpAddr = flag.String("http", flagenv.String("LOGBOOK_HTTP", ""), "serve /metrics on this address, e.g. 127.0.0.1:8080 (off by default; env LOGBOOK_HTTP)")
		natsConf = flag.String("nats-config", flagenv.String("LOGBOOK_NATS_CONFIG", ""), "nats-server configuration file for the embedded NATS (env LOGBOOK_NATS_CONFIG)")
		accounts = flag.String("tenant-accounts", flagenv.String("LOGBOOK_TENANT_ACCOUNTS", ""), "NATS accounts allowed to reach Logbook through a service import, and their stores: ACCOUNT=store[,store...];OPS=* (* also allows stores.* and cluster.*); requests from other accounts are refused with forbidden; empty: no check (env LOGBOOK_TENANT_ACCOUNTS)")
	)
	natsAuth := natsauth.Register(flag.CommandLine)
	node := cli.Register(flag.CommandLine, "./data")
	newLogger := flagenv.Logger(flag.CommandLine)
	pprofflag.Register(flag.CommandLine, "logbook")
	flag.Parse()
	if err := flagenv.CheckPayload(node.Limits, natsMaxPayload); err != nil {
		return err
	}
	logger, err := newLogger()
	if err != nil {
		return err
	}
	nc, err := node.Config()
	if err != nil {
		return err
	}
	natsOpts, err := natsAuth.ServiceOptions(logger)
	if err != nil {
		return err
	}
	tenantAccounts, err := gateway.ParseAccounts(*accounts)
	if err != nil {
		return err
	}

	// Stop on Ctrl-C or SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Start: NATS, storenode, gateway (embed.Start does them in that order).
	lb, err := embed.Start(ctx, embed.Config{
		DataDir: nc.DataDir, NATSURL: *natsURL, NATSHost: *natsHost, NATSPort: *natsPort,
		NATSConfigFile: *natsConf, NATSOptions: natsOpts, GatewayAccounts: tenantAccounts,
		NodeID: nc.NodeID, RaftAddress: nc.RaftAddress, RaftListen: nc.ListenAddress, RaftTLS: nc.RaftTLS,
		ClusterName: nc.ClusterName, InitialSize: nc.InitialSize,
		StoreID: nc.DefaultStore, Logger: logger, RequestTimeout: nc.RequestTimeout,
		Limits: nc.Limits, NATSMaxPayload: natsMaxPayload,
		Stores: nc.StaticStores, MaxStores: nc.MaxStores, MaxReplicas: nc.MaxReplicas,
		StoreSnapshotEntries: nc.StoreSnapshotEntries, StoreCompactionOverhead: nc.StoreCompactionOverhead,
		MetricsStoreLimit: nc.MetricsStoreLimit, HibernateAfter: nc.HibernateAfter,
		MaxRunningReplicas: nc.MaxRunningReplicas, HTTPAddress: *httpAddr,
		ReadyTimeout: readyTimeout(nc.InitialSize),
	})
	if err != nil {
		return err
	}
	logger.Info("logbook ready", "nats", lb.ClientURL(), "store", lb.StoreID(), "data", nc.DataDir)
	fmt.Printf("Logbook is ready. NATS URL: %s  (store %q, data in %s)\n", lb.ClientURL(), lb.StoreID(), nc.DataDir)

	select {
	case <-ctx.Done():
	case <-lb.Done(): // the cluster removed this node: exit non-zero, saying so
		if err := lb.Err(); err != nil {
			lb.Close()
			return err
		}
	}
	logger.Info("shutting down")
	// Shutdown: gateway, then storenode (Raft, stores), then NATS.
	return lb.Close()
}

// readyTimeout bounds the wait for the cluster to serve: a node that forms a
// cluster with others waits for them as long as it takes (Ctrl-C stops it).
func readyTimeout(initialSize int) time.Duration {
	if initialSize > 1 {
		return 365 * 24 * time.Hour
	}
	return 30 * time.Second
}

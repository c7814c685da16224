// Command logbook runs Logbook on its single-machine default: an embedded
// NATS server, a gateway and a storenode in one process, data in a local
// folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "logbook:", err)
		os.Exit(1)
	}
}

// natsMaxPayload is the embedded NATS server's max message size.
const natsMaxPayload = 8 << 20

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	port, _ := strconv.Atoi(env("LOGBOOK_NATS_PORT", "4222"))
	def := wire.DefaultLimits()
	var (
		dataDir  = flag.String("data", env("LOGBOOK_DATA", "./data"), "data directory (env LOGBOOK_DATA)")
		natsURL  = flag.String("nats-url", env("LOGBOOK_NATS_URL", ""), "use this NATS server instead of embedding one (env LOGBOOK_NATS_URL)")
		natsHost = flag.String("nats-host", env("LOGBOOK_NATS_HOST", "127.0.0.1"), "embedded NATS listen host (env LOGBOOK_NATS_HOST)")
		natsPort = flag.Int("nats-port", port, "embedded NATS listen port (env LOGBOOK_NATS_PORT)")
		raftAddr = flag.String("raft-addr", env("LOGBOOK_RAFT_ADDR", "127.0.0.1:7100"), "Raft transport address (env LOGBOOK_RAFT_ADDR)")
		storeID  = flag.String("store", env("LOGBOOK_STORE", embed.DefaultStoreID), "id of the default store (env LOGBOOK_STORE)")
		logLevel = flag.String("log-level", env("LOGBOOK_LOG_LEVEL", "info"), "debug, info, warn or error (env LOGBOOK_LOG_LEVEL)")
		limits   wire.Limits
		confPath = flag.String("config", env("LOGBOOK_CONFIG", ""), "JSON file declaring stores (env LOGBOOK_CONFIG); see docs/operations.md")
		stores   = flag.String("stores", env("LOGBOOK_STORES", ""), "comma-separated ids of stores to create at start-up with default settings (env LOGBOOK_STORES)")
		maxStore = flag.Int("max-stores", envInt("LOGBOOK_MAX_STORES", 10_000), "most stores the cluster may hold (env LOGBOOK_MAX_STORES)")
	)
	flag.IntVar(&limits.MaxEventSize, "max-event-size", envInt("LOGBOOK_MAX_EVENT_SIZE", def.MaxEventSize), "max bytes of one event: type, data, metadata and content types (env LOGBOOK_MAX_EVENT_SIZE)")
	flag.IntVar(&limits.MaxAppendEvents, "max-append-events", envInt("LOGBOOK_MAX_APPEND_EVENTS", def.MaxAppendEvents), "max events in one append (env LOGBOOK_MAX_APPEND_EVENTS)")
	flag.IntVar(&limits.MaxRequestSize, "max-request-size", envInt("LOGBOOK_MAX_REQUEST_SIZE", def.MaxRequestSize), "max bytes of one request (env LOGBOOK_MAX_REQUEST_SIZE)")
	flag.IntVar(&limits.MaxReadCount, "max-read-count", envInt("LOGBOOK_MAX_READ_COUNT", def.MaxReadCount), "max events one read may ask for (env LOGBOOK_MAX_READ_COUNT)")
	flag.IntVar(&limits.MaxReplySize, "max-reply-size", envInt("LOGBOOK_MAX_REPLY_SIZE", def.MaxReplySize), "read replies stop before this many bytes (env LOGBOOK_MAX_REPLY_SIZE)")
	flag.Parse()
	if limits.MaxRequestSize+(1<<20) > natsMaxPayload || limits.MaxReplySize+(1<<20) > natsMaxPayload {
		return fmt.Errorf("-max-request-size and -max-reply-size must stay 1 MiB under the NATS max payload (%d)", natsMaxPayload)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	if *maxStore < 1 {
		return fmt.Errorf("-max-stores must be at least 1")
	}
	static, err := staticStores(*confPath, *stores)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Stop on Ctrl-C or SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Start: NATS, storenode, gateway (embed.Start does them in that order).
	lb, err := embed.Start(ctx, embed.Config{
		DataDir: *dataDir, NATSURL: *natsURL, NATSHost: *natsHost, NATSPort: *natsPort,
		RaftAddress: *raftAddr, StoreID: *storeID, Logger: logger,
		Limits: limits, NATSMaxPayload: natsMaxPayload,
		Stores: static, MaxStores: *maxStore,
	})
	if err != nil {
		return err
	}
	logger.Info("logbook ready", "nats", lb.ClientURL(), "store", lb.StoreID(), "data", *dataDir)
	fmt.Printf("Logbook is ready. NATS URL: %s  (store %q, data in %s)\n", lb.ClientURL(), lb.StoreID(), *dataDir)

	<-ctx.Done()
	logger.Info("shutting down")
	// Shutdown: gateway, then storenode (Raft, stores), then NATS.
	return lb.Close()
}

package node

import (
	"context"
	"log/slog"
	"net"
)

// logRaftSecurity says whether the Raft transport authenticates its peers,
// and, when it does not, what that exposes and how to change it: a warning,
// unless the transport binds to a loopback address only (a one-machine
// setup, where only local processes reach it).
func logRaftSecurity(cfg Config) {
	bind := cfg.ListenAddress
	if bind == "" {
		bind = cfg.RaftAddress
	}
	if cfg.RaftTLS.Enabled() {
		cfg.Logger.Info("Raft transport: mutual TLS 1.3; peers need a certificate from the CA", "listen", bind, "ca", cfg.RaftTLS.CAFile)
		return
	}
	lvl := slog.LevelWarn
	if host, _, err := net.SplitHostPort(bind); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
			lvl = slog.LevelInfo
		}
	}
	cfg.Logger.Log(context.Background(), lvl, "Raft transport is plaintext and unauthenticated: whoever reaches its port can read and send Raft messages; "+
		"to require mutual TLS, give -raft-tls-ca, -raft-tls-cert and -raft-tls-key (env LOGBOOK_RAFT_TLS_CA, _CERT, _KEY; see docs/operations.md#securing-the-raft-transport)", "listen", bind)
}

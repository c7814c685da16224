package embed

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// serverOptions are the embedded NATS server's options: those of
// NATSConfigFile when set, with Logbook's defaults where it is silent (a
// file without a listen host keeps the server on 127.0.0.1, not on every
// interface as nats-server would).
func (c *Config) serverOptions() (*server.Options, error) {
	opts := &server.Options{}
	if c.NATSConfigFile != "" {
		var err error
		if opts, err = server.ProcessConfigFile(c.NATSConfigFile); err != nil {
			return nil, fmt.Errorf("logbook: NATS configuration: %w", err)
		}
	}
	if opts.ServerName == "" {
		opts.ServerName = "logbook"
	}
	if opts.Host == "" {
		opts.Host = c.NATSHost
	}
	if opts.Port == 0 {
		opts.Port = c.NATSPort
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = c.NATSMaxPayload
	}
	opts.NoSigs = true // the process handles its signals
	return opts, nil
}

// connect opens Logbook's own connection, with NATSOptions: to NATSURL, or
// in-process to the embedded server. In-process, the server offers TLS
// without requiring it (the pipe never leaves the process), so a URL
// scheme of tls:// must not make the client insist on it; the identity is
// checked as on any connection.
func (l *Logbook) connect() (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name("logbook"), nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)},
		l.cfg.NATSOptions...)
	url := l.url
	if l.ns != nil {
		opts = append(opts, nats.InProcessServer(l.ns))
		url = "nats://" + strings.TrimPrefix(url, "tls://")
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil && l.ns != nil && l.cfg.NATSConfigFile != "" {
		// A refused in-process connection does not always say so: the
		// server's error and the client's next write can block each
		// other on the pipe until the server's write deadline.
		return nil, fmt.Errorf("logbook: connect to the embedded NATS: %w (if %s requires authentication, give Logbook's own "+
			"connection an identity it allows: -nats-user, -nats-nkey, -nats-creds or a token; see docs/operations.md)",
			err, l.cfg.NATSConfigFile)
	}
	if err != nil {
		return nil, fmt.Errorf("logbook: connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

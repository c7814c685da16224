package natsauth

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
)

// ServiceOptions returns the options of a long-running process's
// connection: those of the flags, plus Watch. It logs the means in use
// (never a secret).
func (f *Flags) ServiceOptions(logger *slog.Logger) ([]nats.Option, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	logger.Info("NATS authentication and TLS", "means", c.Means())
	return append(opts, Watch(logger)...), nil
}

// Watch returns options that make connection trouble visible in a process
// that retries NATS for ever: a refused connection (wrong credentials, a
// TLS failure, no server) is logged once per distinct error, and reconnects
// and asynchronous errors (permission violations, slow consumers) are
// logged. An authorization error does not close the connection for good
// (nats.go's default after the same one twice), so that a process whose
// credentials are fixed on the server recovers without a restart.
func Watch(logger *slog.Logger) []nats.Option {
	w := &watcher{l: logger}
	return []nats.Option{
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { w.report("cannot connect to NATS", err) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				w.report("disconnected from NATS", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			w.reset()
			logger.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if isAuth(err) { // also reported by each reconnect attempt
				w.report("NATS refused the connection", err)
				return
			}
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("NATS error", "subject", subject, "err", err)
		}),
	}
}

// watcher logs connection errors once until a different one or a reconnect.
type watcher struct {
	l    *slog.Logger
	mu   sync.Mutex
	last string
}

func (w *watcher) report(msg string, err error) {
	w.mu.Lock()
	same := err.Error() == w.last
	w.last = err.Error()
	w.mu.Unlock()
	if same {
		return
	}
	level := slog.LevelWarn
	if isAuth(err) {
		level = slog.LevelError
	}
	w.l.Log(context.Background(), level, msg, "err", err)
}

func (w *watcher) reset() {
	w.mu.Lock()
	w.last = ""
	w.mu.Unlock()
}

func isAuth(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

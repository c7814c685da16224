package embed

import (
	"context"
	"fmt"
	"log/slog"
)

// natsLogger adapts nats-server's logger to slog. Its notices (the start-up
// banner, "Server is ready", shutdown) are routine: they go to debug, so
// that the default run prints Logbook's own lines; warnings and errors stay.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) log(level slog.Level, format string, v []any) {
	n.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (n natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelDebug, format, v) }
func (n natsLogger) Warnf(format string, v ...any)   { n.log(slog.LevelWarn, format, v) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Errorf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Debugf(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }
func (n natsLogger) Tracef(format string, v ...any)  { n.log(slog.LevelDebug-4, format, v) }

// Package flagenv declares command-line flags whose defaults come from
// LOGBOOK_* environment variables, shared by the logbook, storenode and
// gateway binaries so that each setting has one name everywhere.
package flagenv

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// String returns the environment variable's value, or def.
func String(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Int returns the environment variable as an int, or def.
func Int(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// Duration returns the environment variable as a duration, or def.
func Duration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// Limits registers the request limit flags, filling l.
func Limits(fs *flag.FlagSet, l *wire.Limits) {
	def := wire.DefaultLimits()
	fs.IntVar(&l.MaxEventSize, "max-event-size", Int("LOGBOOK_MAX_EVENT_SIZE", def.MaxEventSize), "max bytes of one event: type, data, metadata and content types (env LOGBOOK_MAX_EVENT_SIZE)")
	fs.IntVar(&l.MaxAppendEvents, "max-append-events", Int("LOGBOOK_MAX_APPEND_EVENTS", def.MaxAppendEvents), "max events in one append (env LOGBOOK_MAX_APPEND_EVENTS)")
	fs.IntVar(&l.MaxRequestSize, "max-request-size", Int("LOGBOOK_MAX_REQUEST_SIZE", def.MaxRequestSize), "max bytes of one request (env LOGBOOK_MAX_REQUEST_SIZE)")
	fs.IntVar(&l.MaxReadCount, "max-read-count", Int("LOGBOOK_MAX_READ_COUNT", def.MaxReadCount), "max events one read may ask for (env LOGBOOK_MAX_READ_COUNT)")
	fs.IntVar(&l.MaxReplySize, "max-reply-size", Int("LOGBOOK_MAX_REPLY_SIZE", def.MaxReplySize), "read replies stop before this many bytes (env LOGBOOK_MAX_REPLY_SIZE)")
}

// CheckPayload checks that requests and replies fit a NATS max_payload
// with room for headers.
func CheckPayload(l wire.Limits, maxPayload int) error {
	if l.MaxRequestSize+(1<<20) > maxPayload || l.MaxReplySize+(1<<20) > maxPayload {
		return fmt.Errorf("-max-request-size and -max-reply-size must stay 1 MiB under the NATS max payload (%d)", maxPayload)
	}
	return nil
}

// Logger registers -log-level and -log-format and returns a function
// building the logger, which writes to stderr.
func Logger(fs *flag.FlagSet) func() (*slog.Logger, error) {
	level := fs.String("log-level", String("LOGBOOK_LOG_LEVEL", "info"), "debug, info, warn or error (env LOGBOOK_LOG_LEVEL)")
	format := fs.String("log-format", String("LOGBOOK_LOG_FORMAT", "text"), "text, or json: one JSON object a line (env LOGBOOK_LOG_FORMAT)")
	return func() (*slog.Logger, error) { return NewLogger(os.Stderr, *level, *format) }
}

// NewLogger builds a logger writing to w at level (debug, info, warn or
// error) in format (text or json).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad -log-format %q: want text or json", format)
}

// Bool returns the environment variable as a bool (1, true, 0, false, …),
// or def.
func Bool(name string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

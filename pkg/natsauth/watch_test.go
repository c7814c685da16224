package natsauth

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// A refused connection retried for ever is logged once per distinct error,
// an authorization error at ERROR, and again after a reconnect.
func TestWatcherLogsEachErrorOnce(t *testing.T) {
	var buf bytes.Buffer
	w := &watcher{l: slog.New(slog.NewTextHandler(&buf, nil))}
	auth := fmt.Errorf("wrapped: %w", nats.ErrAuthorization)
	for range 3 {
		w.report("cannot connect to NATS", auth)
	}
	w.report("cannot connect to NATS", errors.New("dial tcp: connection refused"))
	w.reset()
	w.report("cannot connect to NATS", auth)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[2], "level=ERROR") {
		t.Errorf("levels:\n%s", buf.String())
	}
}

package tests

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/nats-io/nats.go"
)

// askNow sends a request at once and fails if nobody was subscribed.
func askNow(t *testing.T, nc *nats.Conn, what, subject string, data []byte) {
	t.Helper()
	if _, err := nc.Request(subject, data, 5*time.Second); errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("%s: %s answered %v right after the ready line", what, subject, err)
	}
}

// A ready line means the process serves: a request sent the moment it is
// printed finds the process's subscriptions on the server (they used to be
// sent after the line, and such a request got "no responders").
func TestReadyLineMeansServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	_, url := startNATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	gateway := buildBinary(t, "github.com/logbookdb/logbook/services/gateway")
	for i := range 15 {
		p := runUntilReady(t, gateway, "Gateway is ready.", []string{"-nats-url", url, "-request-timeout", "100ms", "-log-level", "error"}, nil)
		askNow(t, nc, fmt.Sprintf("gateway, run %d", i), subjects.Cluster(subjects.ClusterHealth), nil)
		p.cmd.Process.Kill()
	}
	for i := range 3 { // the all-in-one logbook on this NATS: its gateway is the one that answers
		p := runUntilReady(t, logbookBinary(t), "Logbook is ready", []string{"-nats-url", url, "-raft-addr", freeAddr(t),
			"-data", t.TempDir(), "-log-level", "error"}, nil)
		askNow(t, nc, fmt.Sprintf("logbook, run %d", i), subjects.Cluster(subjects.ClusterHealth), nil)
		p.cmd.Process.Kill()
	}
	runUntilReady(t, storenodeBinary(t), "is ready", []string{"-nats-url", url, "-node-id", "1", "-raft-addr", freeAddr(t),
		"-data", t.TempDir(), "-cluster", "ready", "-initial-size", "1", "-log-level", "error"}, nil)
	askNow(t, nc, "storenode", proto.Leader("default", "read"), nil)
	askNow(t, nc, "storenode", proto.RegistryLookup, []byte("default"))
}

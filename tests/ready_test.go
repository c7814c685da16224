package tests

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/nats-io/nats.go"
)

// runUntilReady starts a command and returns once it printed a line
// containing ready; it is killed at the end of the test.
func runUntilReady(t *testing.T, ready string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdout := startPiped(t, cmd)
	done, readyc := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	go func() { // ends when the process exits
		defer close(done)
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				close(readyc)
			}
		}
		cmd.Wait()
	}()
	select {
	case <-readyc:
		return cmd
	case <-done:
		t.Fatalf("%s exited before it printed %q", name, ready)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print %q within 30s", name, ready)
	}
	return nil
}

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
		cmd := runUntilReady(t, "Gateway is ready.", gateway, "-nats-url", url, "-request-timeout", "100ms", "-log-level", "error")
		askNow(t, nc, fmt.Sprintf("gateway, run %d", i), subjects.Cluster(subjects.ClusterHealth), nil)
		cmd.Process.Kill()
	}
	for i := range 3 { // the all-in-one logbook on this NATS: its gateway is the one that answers
		cmd := runUntilReady(t, "Logbook is ready", logbookBinary(t), "-nats-url", url, "-raft-addr", freeAddr(t),
			"-data", t.TempDir(), "-log-level", "error")
		askNow(t, nc, fmt.Sprintf("logbook, run %d", i), subjects.Cluster(subjects.ClusterHealth), nil)
		cmd.Process.Kill()
	}
	runUntilReady(t, "is ready", storenodeBinary(t), "-nats-url", url, "-node-id", "1", "-raft-addr", freeAddr(t),
		"-data", t.TempDir(), "-cluster", "ready", "-initial-size", "1", "-log-level", "error")
	askNow(t, nc, "storenode", proto.Leader("default", "read"), nil)
	askNow(t, nc, "storenode", proto.RegistryLookup, []byte("default"))
}

package tests

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startupLogs runs the logbook binary until it is ready, stops it and
// returns what it wrote on stderr.
func startupLogs(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-data", t.TempDir(), "-nats-port", strings.Split(freeAddr(t), ":")[1], "-raft-addr", freeAddr(t)}, args...)
	cmd := exec.Command(logbookBinary(t), args...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout := startPiped(t, cmd)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Logbook is ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("not ready within 60s; stderr:\n%s", stderr.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	return stderr.String()
}

// The default run prints Logbook's own start-up lines, not nats-server's
// banner nor dragonboat's Raft chatter (those are at debug).
func TestDefaultStartupLogsAreQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	logs := startupLogs(t)
	if !strings.Contains(logs, `msg="logbook ready"`) {
		t.Errorf("no ready line in the default logs:\n%s", logs)
	}
	for _, noise := range []string{"Starting nats-server", "Version:", "Server is ready", "Listening for client connections",
		"mutual TLS disabled", "PreVote", "became candidate", "RequestVoteResp", "component=dragonboat"} {
		if strings.Contains(logs, noise) {
			t.Errorf("default logs hold %q:\n%s", noise, logs)
		}
	}
	if debug := startupLogs(t, "-log-level", "debug"); !strings.Contains(debug, "Starting nats-server") || !strings.Contains(debug, "component=dragonboat") {
		t.Errorf("-log-level debug lost nats-server's or dragonboat's lines:\n%s", debug)
	}
}

// -log-format json writes one JSON object a line.
func TestLogFormatJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	logs := startupLogs(t, "-log-format", "json")
	ready := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q (%v)", line, err)
		}
		ready = ready || m["msg"] == "logbook ready"
	}
	if !ready {
		t.Errorf("no ready line in the JSON logs:\n%s", logs)
	}
}

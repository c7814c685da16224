//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary double as a NATS server child (see
// natschild.go): the JetStream cluster and Logbook's NATS server are
// processes of their own, started by re-executing this binary.
func TestMain(m *testing.M) {
	maybeRunNATSChild()
	os.Exit(m.Run())
}

// TestSmoke runs the whole benchmark briefly: a 3-storenode Logbook cluster
// with 2 gateways and two 3-server JetStream clusters (sync_interval: always
// and JetStream's default), 1 and 4 clients, 1 and 4 stores, 2 s per
// scenario. Both sides must complete appends with no
// error, and every acknowledged append must be on the servers (Logbook:
// read back from each stream's start; JetStream: counted per subject).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts storenode, gateway and NATS processes")
	}
	o, err := parseFlags([]string{"-smoke", "-clients", "1,4", "-stores", "1,4", "-streams", "32", "-timeout", "5m"})
	if err != nil {
		t.Fatal(err)
	}
	o.dir = t.TempDir()
	var out, progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, &out, &progress)
	t.Log("\n" + out.String())
	if err != nil {
		t.Log(progress.String())
		t.Fatal(err)
	}
	if want := 2 * 2 * 3; len(rep.Appends) != want {
		t.Fatalf("%d results, want %d", len(rep.Appends), want)
	}
	for _, a := range rep.Appends {
		name := a.System
		if a.Ops == 0 || a.Errors != 0 {
			t.Errorf("%s, %d stores, %d clients: %d appends, %d errors (first: %s)", name, a.Stores, a.Clients, a.Ops, a.Errors, a.FirstError)
		}
		v := a.Verify
		if v.Checked != a.Streams || v.Lost != 0 || v.Mismatches != 0 || v.Extra != 0 {
			t.Errorf("%s, %d stores, %d clients: verify %+v", name, a.Stores, a.Clients, v)
		}
		// Every stream got its warm-up append, and every measured append
		// is on the servers: nothing less, nothing more.
		if v.Events != a.Ops+a.Streams {
			t.Errorf("%s, %d stores, %d clients: %d events on the servers, want %d measured + %d warm-up",
				name, a.Stores, a.Clients, v.Events, a.Ops, a.Streams)
		}
	}
	// Every child process was stopped: its PID is gone (reaped).
	if len(rep.pids) != 3+3+1+3+2 {
		t.Errorf("%d child processes, want 12", len(rep.pids))
	}
	// Both JetStream settings ran, and the report names the peer's version
	// as the build has it.
	for _, sys := range []string{"js-always", "js-default", "logbook"} {
		if rep.find(sys, 1, 1, 1) == nil {
			t.Errorf("no result for %s", sys)
		}
	}
	if v := rep.Env["nats_server"]; !strings.HasPrefix(v, "v2.") {
		t.Errorf("nats-server version %q, want the module's v2.x", v)
	}
	for _, pid := range rep.pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("child %d still runs", pid)
		}
	}
}

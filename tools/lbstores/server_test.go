package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeServer writes a script that plays the logbook binary: it prints the
// ready line, then runs the given shell commands.
func fakeServer(t *testing.T, then string) serverConfig {
	return fakeServerWith(t, "", then)
}

// fakeServerWith runs setup before it prints the ready line, so that, for
// example, a signal trap is in place before the test can send the signal.
func fakeServerWith(t *testing.T, setup, then string) serverConfig {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "logbook")
	script := "#!/bin/sh\n" + setup + "\necho 'level=INFO msg=starting' >&2\necho 'Logbook is ready. NATS URL: nats://127.0.0.1:4999'\n" + then + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return serverConfig{bin: bin, dataDir: t.TempDir(), raftAddr: "127.0.0.1:1", maxStores: 2, logLevel: "warn"}
}

func TestServerStartReadyStop(t *testing.T) {
	cfg := fakeServer(t, "exec sleep 60")
	log := filepath.Join(t.TempDir(), "server-1.log")
	srv, err := startServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.kill()
	url, d, err := srv.WaitReady(context.Background(), 10*time.Second)
	if err != nil || url != "nats://127.0.0.1:4999" || d <= 0 {
		t.Fatalf("WaitReady: %q %s %v", url, d, err)
	}
	if err := srv.exitedUnexpectedly(); err != nil {
		t.Fatal(err)
	}
	// sleep dies of the SIGTERM: not a clean exit, but not a kill either.
	d, err = srv.stop(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "after SIGTERM") || strings.Contains(err.Error(), "killed") {
		t.Fatalf("stop: %s %v", d, err)
	}
	if err := srv.exitedUnexpectedly(); err != nil {
		t.Fatalf("a stopped server reported as exited unexpectedly: %v", err)
	}
	if _, err := srv.stop(time.Second); err == nil {
		t.Fatal("a second stop succeeded")
	}
	if ls := summarizeLog(log); ls.Warnings != 0 || ls.Errors != 0 {
		t.Fatalf("log summary %+v", ls)
	}
}

func TestServerCleanStopAndUnexpectedExit(t *testing.T) {
	cfg := fakeServerWith(t, "trap 'exit 0' TERM", "while :; do sleep 0.05; done")
	srv, err := startServer(cfg, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.WaitReady(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.stop(10 * time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}

	cfg = fakeServer(t, "exit 3")
	srv, err = startServer(cfg, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	<-srv.Exited()
	if err := srv.exitedUnexpectedly(); err == nil || !strings.Contains(err.Error(), "exited unexpectedly") {
		t.Fatalf("exitedUnexpectedly: %v", err)
	}
}

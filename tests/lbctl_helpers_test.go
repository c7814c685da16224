package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
)

// startForLbctl starts a Logbook for lbctl to talk to (not with -short:
// lbctl is built and run as a process).
func startForLbctl(t *testing.T) *instance {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs lbctl")
	}
	return startLogbook(t)
}

// lbctl runs the lbctl binary against in and returns its stdout; it fails
// the test if lbctl fails.
func lbctl(t *testing.T, in *instance, args ...string) string {
	t.Helper()
	out, stderr, err := lbctlRun(t, in, args...)
	if err != nil {
		t.Fatalf("lbctl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

func lbctlRun(t *testing.T, in *instance, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(buildBinary(t, "github.com/logbookdb/logbook/tools/lbctl"), append([]string{"--server", in.natsURL}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// lbctlJSON runs lbctl with --json and decodes its one JSON document.
func lbctlJSON(t *testing.T, in *instance, args ...string) map[string]any {
	t.Helper()
	out := lbctl(t, in, append(args, "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("lbctl %s --json: not one JSON document: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

func wantContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, got)
		}
	}
}

// lbctlStream is a running lbctl tail or subscribe: it is ready once its
// stderr holds ready.
type lbctlStream struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr syncBuffer
	done   chan error
}

func startLbctl(t *testing.T, in *instance, ready string, args ...string) *lbctlStream {
	t.Helper()
	s := &lbctlStream{done: make(chan error, 1)}
	s.cmd = exec.Command(buildBinary(t, "github.com/logbookdb/logbook/tools/lbctl"), append([]string{"--server", in.natsURL}, args...)...)
	s.cmd.Stdout = &s.stdout
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	isReady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.stderr.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), ready) {
				close(isReady)
				ready = "\x00never"
			}
		}
	}()
	go func() { err := s.cmd.Wait(); pw.Close(); s.done <- err }()
	t.Cleanup(func() { s.cmd.Process.Kill() })
	select {
	case <-isReady:
	case err := <-s.done:
		t.Fatalf("lbctl %s ended before %q: %v\n%s", strings.Join(args, " "), ready, err, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("lbctl %s: no %q within 30s\n%s", strings.Join(args, " "), ready, s.stderr.String())
	}
	return s
}

// wait waits for the process to end by itself and returns its stdout.
func (s *lbctlStream) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("lbctl: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("lbctl did not stop by itself within 30s; stdout:\n%s", s.stdout.String())
	}
	return s.stdout.String()
}

// jsonLines decodes one JSON object a line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func appendEvent(t *testing.T, in *instance, stream, typ, data string) {
	t.Helper()
	if _, err := in.Store.Append(ctxT(t), stream, client.Any, client.Event{Type: typ, Data: []byte(data), DataContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
}

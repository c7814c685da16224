package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

// logbookBinary builds the real logbook command once per test run.
func logbookBinary(t *testing.T) string {
	return buildBinary(t, "github.com/logbookdb/logbook/services/logbook")
}

var (
	binMu    sync.Mutex
	binPaths = map[string]string{} // package -> built binary
)

// buildBinary builds a command of the workspace once per test run.
func buildBinary(t *testing.T, pkg string, buildFlags ...string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	key := strings.Join(append([]string{pkg}, buildFlags...), " ")
	if p, ok := binPaths[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "logbook-bin-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(pkg))
	args := append(append([]string{"build", "-o", p}, buildFlags...), pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	binPaths[key] = p
	return p
}

// proc is a logbook process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// procOption adds to a logbook process's environment or command line.
type procOption func(*procConfig)

type procConfig struct {
	env  []string // KEY=VALUE, on top of this process's environment
	args []string // after the standard flags
}

// withEnv sets environment variables (KEY=VALUE) for the process.
func withEnv(kv ...string) procOption {
	return func(c *procConfig) { c.env = append(c.env, kv...) }
}

// withArgs adds command-line arguments after the standard ones.
func withArgs(args ...string) procOption {
	return func(c *procConfig) { c.args = append(c.args, args...) }
}

func startProc(t *testing.T, dataDir, natsAddr, raftAddr string, opts ...procOption) *proc {
	t.Helper()
	var pc procConfig
	for _, o := range opts {
		o(&pc)
	}
	host, port, _ := strings.Cut(natsAddr, ":")
	args := []string{"-data", dataDir, "-nats-host", host, "-nats-port", port, "-raft-addr", raftAddr, "-log-level", "warn"}
	return runUntilReady(t, logbookBinary(t), "Logbook is ready", append(args, pc.args...), pc.env)
}

// runUntilReady starts a command with args and env (KEY=VALUE, on top of
// this process's environment), waits until it prints ready on stdout and
// kills it when the test ends.
func runUntilReady(t *testing.T, bin, ready string, args, env []string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout := startPiped(t, cmd)
	p := &proc{cmd: cmd, done: make(chan struct{})}
	isReady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ready) {
				close(isReady)
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	name := filepath.Base(bin)
	select {
	case <-isReady:
	case <-p.done:
		t.Fatalf("%s exited before it was ready: %v", name, p.err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s was not ready within 60s", name)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

type ack struct {
	stream   string
	ids      []string
	revision uint64
	position uint64
}

// kill -9 during a steady write load loses no acknowledged append, and
// retrying the appends that were in flight never writes them twice.
func TestKill9LosesNoAcknowledgedAppend(t *testing.T) {
	site := newProcSite(t)
	p := site.start()
	c := site.connect(client.WithoutRetry(), client.WithTimeout(3*time.Second))
	var (
		mu       sync.Mutex
		acked    []ack
		inFlight [][]client.Event // appends without an answer: outcome unknown
		streams  = map[string]int{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			s := c.Store("default")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				stream := fmt.Sprintf("w%d-%d", w, i%4)
				evs := []client.Event{{ID: uuid.NewString(), Type: "E"}, {ID: uuid.NewString(), Type: "F"}}
				r, err := s.Append(context.Background(), stream, client.Any, evs...)
				mu.Lock()
				if err == nil {
					acked = append(acked, ack{stream, []string{evs[0].ID, evs[1].ID}, r.FirstRevision, r.FirstPosition})
				} else {
					inFlight = append(inFlight, evs)
					streams[stream]++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("killed with %d appends acknowledged, %d without an answer", len(acked), len(inFlight))
	if len(acked) < 10 {
		t.Fatalf("only %d appends acknowledged before the kill", len(acked))
	}
	mu.Unlock()

	site.start()
	ctx := ctxT(t)
	s := c.Store("default")
	// Every acknowledged append is there, where it was acknowledged.
	byPos := map[uint64]client.RecordedEvent{}
	for _, e := range readAllForwardCtx(t, ctx, s) {
		byPos[e.Position] = e
	}
	for _, a := range acked {
		for k, id := range a.ids {
			e, ok := byPos[a.position+uint64(k)]
			if !ok || e.ID != id || e.Stream != a.stream || e.Revision != a.revision+uint64(k) {
				t.Fatalf("acknowledged event %s of %s (rev %d, pos %d) lost or moved: %+v", id, a.stream, a.revision+uint64(k), a.position+uint64(k), e)
			}
		}
	}
	// Retrying the unanswered appends with their ids writes each at most once.
	total := len(byPos)
	written := 0
	for _, evs := range inFlight {
		r, err := s.Append(ctx, "retry-probe-never-used", client.Any, evs...)
		if err == nil && !r.Duplicate {
			written++ // it never reached the log: written now, once
			continue
		}
		if err != nil && !errors.Is(err, codes.ErrIdempotencyConflict) {
			t.Fatalf("retry: %v", err)
		}
		// idempotency_conflict: the original (in another stream) did reach the log.
	}
	after := readAllForwardCtx(t, ctx, s)
	if len(after) != total+2*written {
		t.Fatalf("$all has %d events, want %d", len(after), total+2*written)
	}
	for i, e := range after {
		if e.Position != uint64(i) {
			t.Fatalf("position gap at %d", i)
		}
	}
}

func readAllForwardCtx(t *testing.T, ctx context.Context, s *client.Store) []client.RecordedEvent {
	t.Helper()
	var out []client.RecordedEvent
	from := uint64(0)
	for {
		p, err := s.ReadAll(ctx, client.ReadAllOptions{From: &from, MaxCount: 4096})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.EndOfStore {
			return out
		}
		from = p.NextPosition
	}
}

// SIGTERM shuts down in order and exits 0; the data is there afterwards.
func TestSigtermGracefulShutdown(t *testing.T) {
	site := newProcSite(t)
	p := site.start()
	c := site.connect()
	if _, err := c.Store("default").Append(ctxT(t), "x", client.NoStream, ev("E", "1")); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
	site.start()
	page, err := c.Store("default").Read(ctxT(t), "x", client.ReadOptions{})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("after restart: %+v %v", page, err)
	}
}

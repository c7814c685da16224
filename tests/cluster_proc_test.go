package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// procCluster is a cluster of real storenode processes (the storenode
// binary) on one NATS server run by the test, with a gateway in the test
// process. Nodes can be killed with SIGKILL, paused with SIGSTOP (a node cut
// off: it neither sends nor answers) and restarted on their data.
type procCluster struct {
	t     *testing.T
	url   string
	size  int
	mu    sync.Mutex
	nodes map[uint64]*procNode
	gatewayFront
}

type procNode struct {
	id     uint64
	dir    string
	raft   string
	http   string // its -http address (/cluster, /health)
	cmd    *exec.Cmd
	done   chan struct{}
	ready  chan struct{}
	paused bool
	stderr *syncBuffer // what it wrote on stderr (also copied to the test's)
	err    error       // its exit status, once done is closed
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storenodeBinary builds the real storenode command once per test run.
func storenodeBinary(t *testing.T) string {
	return buildBinary(t, "github.com/logbookdb/logbook/services/storenode")
}

// startProcCluster starts size storenode processes that form a cluster, and
// a gateway; it returns once every node is ready.
func startProcCluster(t *testing.T, size int) *procCluster {
	_, url := startNATS(t)
	c := &procCluster{t: t, url: url, size: size, nodes: map[uint64]*procNode{}}
	t.Cleanup(c.close)
	for id := uint64(1); id <= uint64(size); id++ {
		c.launch(&procNode{id: id, dir: t.TempDir(), raft: freeAddr(t), http: freeAddr(t)})
	}
	for id := uint64(1); id <= uint64(size); id++ {
		c.waitReady(id)
	}
	c.startFront(t, url, 10*time.Second, nats.MaxReconnects(-1))
	return c
}

// launch starts (or restarts) a node's process; it does not wait.
func (c *procCluster) launch(p *procNode) {
	c.t.Helper()
	args := []string{"-nats-url", c.url, "-node-id", fmt.Sprint(p.id), "-raft-addr", p.raft,
		"-data", p.dir, "-cluster", "chaos", "-initial-size", fmt.Sprint(c.size), "-log-level", "error", "-http", p.http}
	cmd := exec.Command(storenodeBinary(c.t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(os.Stderr, stderr)
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p.cmd, p.done, p.ready, p.paused, p.stderr = cmd, make(chan struct{}), make(chan struct{}), false, stderr
	done, ready := p.done, p.ready
	go func() { // owned by the process: ends when it exits
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "is ready") {
				close(ready)
			}
		}
		err := cmd.Wait()
		c.mu.Lock()
		p.err = err
		c.mu.Unlock()
		close(done)
	}()
	c.mu.Lock()
	c.nodes[p.id] = p
	c.mu.Unlock()
}

func (c *procCluster) node(id uint64) *procNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *procCluster) waitReady(id uint64) {
	c.t.Helper()
	p := c.node(id)
	select {
	case <-p.ready:
	case <-p.done:
		c.t.Fatalf("storenode %d exited before it was ready", id)
	case <-time.After(60 * time.Second):
		c.t.Fatalf("storenode %d not ready within 60s", id)
	}
}

// exited waits up to timeout for a node's process to exit by itself and
// returns what it wrote on stderr and its exit status.
func (c *procCluster) exited(id uint64, timeout time.Duration) (string, error) {
	c.t.Helper()
	p := c.node(id)
	select {
	case <-p.done:
	case <-time.After(timeout):
		c.t.Fatalf("storenode %d still runs after %s; stderr:\n%s", id, timeout, p.stderr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.stderr.String(), p.err
}

// kill9 kills a node's process with SIGKILL and waits for it to exit.
func (c *procCluster) kill9(id uint64) {
	p := c.node(id)
	if p.paused {
		p.cmd.Process.Signal(syscall.SIGCONT)
	}
	p.cmd.Process.Kill()
	<-p.done
}

// restart starts a killed node again on its data and address.
func (c *procCluster) restart(id uint64) {
	c.t.Helper()
	p := c.node(id)
	c.launch(p)
}

// pause stops a node's process (SIGSTOP): to the others it is cut off.
func (c *procCluster) pause(id uint64) {
	p := c.node(id)
	p.cmd.Process.Signal(syscall.SIGSTOP)
	p.paused = true
}

func (c *procCluster) resume(id uint64) {
	p := c.node(id)
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.paused = false
}

func (c *procCluster) close() {
	c.mu.Lock()
	nodes := slices.Collect(maps.Values(c.nodes))
	c.mu.Unlock()
	for _, p := range nodes {
		if p.paused {
			p.cmd.Process.Signal(syscall.SIGCONT)
		}
		p.cmd.Process.Kill()
		<-p.done
	}
}

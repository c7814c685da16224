package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
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
	prefix []string    // a command that runs it, e.g. ip netns exec <ns> (netns_test.go)
	bin    string      // the storenode binary, if not storenodeBinary's (another build)
	args   []string    // more flags (e.g. -raft-tls-*)
	env    []string    // more environment variables (NAME=value)
}

// procLogLevel is the storenodes' -log-level: error, or
// LOGBOOK_PROC_LOG_LEVEL (e.g. warn to see dragonboat's transport warnings).
func procLogLevel() string {
	if l := os.Getenv("LOGBOOK_PROC_LOG_LEVEL"); l != "" {
		return l
	}
	return "error"
}

// prefixWriter writes each line with a prefix (the node it comes from).
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.midLine = c != '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
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
func startProcCluster(t *testing.T, size int, configure ...func(*procNode)) *procCluster {
	_, url := startNATS(t)
	c := &procCluster{t: t, url: url, size: size, nodes: map[uint64]*procNode{}}
	var nodes []*procNode
	for id := uint64(1); id <= uint64(size); id++ {
		p := &procNode{id: id, dir: t.TempDir(), raft: freeAddr(t), http: freeAddr(t)}
		for _, f := range configure {
			f(p)
		}
		nodes = append(nodes, p)
	}
	// Registered after the data directories, so it runs before they are
	// removed: no process writes into a directory being removed.
	t.Cleanup(c.close)
	for _, p := range nodes {
		c.launch(p)
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
		"-data", p.dir, "-cluster", "chaos", "-initial-size", fmt.Sprint(c.size), "-log-level", procLogLevel(), "-http", p.http}
	bin := p.bin
	if bin == "" {
		bin = storenodeBinary(c.t)
	}
	args = append(append([]string{bin}, args...), p.args...)
	if len(p.prefix) > 0 {
		args = append(slices.Clone(p.prefix), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if p.env != nil {
		cmd.Env = append(os.Environ(), p.env...)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(&prefixWriter{w: os.Stderr, prefix: fmt.Sprintf("[node %d] ", p.id)}, stderr)
	stdout := startPiped(c.t, cmd)
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

// Membership (issue 16): a restarted member always comes back, a removed
// node stays out, and the view reports what the replicas report.

// removeDeadNode kills a node, removes it from the cluster and waits until
// the view has dropped it and every move is done.
func removeDeadNode(t *testing.T, c *procCluster, id uint64) {
	t.Helper()
	c.kill9(id)
	if _, err := c.Client.RemoveNode(ctxT(t), id); err != nil {
		t.Fatalf("remove node %d: %v", id, err)
	}
	waitRemoved(t, c, id)
}

// waitRemoved waits until the view has dropped node id and no store holds
// or moves a replica of it.
func waitRemoved(t *testing.T, c *procCluster, id uint64) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		if err := noNode(v, id); err != nil {
			return err
		}
		for _, s := range v.Stores {
			if len(s.Moves) > 0 || slices.Contains(s.Replicas, id) {
				return fmt.Errorf("store %+v", s)
			}
		}
		return nil
	})
}

func noNode(v *wire.ClusterView, id uint64) error {
	for _, nd := range v.Nodes {
		if nd.ID == id {
			return fmt.Errorf("node %d in the view: %+v", id, nd)
		}
	}
	return nil
}

// appendSome appends n events to stream in the default store.
func appendSome(t *testing.T, c *client.Client, stream string, n int) {
	t.Helper()
	s := c.Store("default")
	for i := range n {
		if _, err := s.Append(ctxT(t), stream, client.Any, ev("E", fmt.Sprint(i))); err != nil {
			t.Fatalf("append %d to %s: %v", i, stream, err)
		}
	}
}

// A cluster formed with -initial-size 3 that lost a node for good still
// takes a restarted member back: -initial-size only matters the first time.
// The restarted node prints its ready line and serves its replicas (the
// stores need it: they have two replicas left).
func TestClusterRestartAfterShrink(t *testing.T) {
	c := startProcCluster(t, 3)
	appendSome(t, c.Client, "before", 5)
	removeDeadNode(t, c, 3)

	c.kill9(1)
	c.restart(1)
	select {
	case <-c.node(1).ready:
	case <-time.After(30 * time.Second):
		t.Fatal("node 1, restarted after the cluster shrank below -initial-size, is not ready within 30s")
	}
	appendSome(t, c.Client, "after", 5)
	if got := readStream(t, ctxT(t), c.Client.Store("default"), "before"); len(got) != 5 {
		t.Fatalf("%d events before the restart", len(got))
	}
	eventually(t, 15*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		for _, s := range v.Stores {
			if !slices.Equal(s.Replicas, []uint64{1, 2}) || s.ReplicasUp != 2 || s.Health != wire.StoreHealthy {
				return fmt.Errorf("store %+v", s)
			}
		}
		return nil
	})
	// The default store's configuration does not differ from the registry
	// because the cluster is smaller than when the store was created. Any
	// node answers: ask enough times for node 1 to answer too.
	for range 12 {
		st, err := c.Client.Stores().Status(ctxT(t), "default")
		if err != nil || st.ConfigMismatch != "" {
			t.Fatalf("default store status %+v %v", st, err)
		}
	}
	// GET /cluster speaks the schema's names (schemas/cluster.md).
	resp, err := http.Get("http://" + c.node(1).http + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var view map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
		t.Fatal(err)
	}
	nodes, _ := view["nodes"].([]any)
	stores, _ := view["stores"].([]any)
	if _, ok := view["meta_leader"]; !ok || len(nodes) != 2 || len(stores) == 0 {
		t.Fatalf("GET /cluster: %v", view)
	}
	if n0, _ := nodes[0].(map[string]any); n0["raft_address"] == nil || n0["last_seen_ms"] == nil {
		t.Fatalf("GET /cluster node: %v", nodes[0])
	}
	if s0, _ := stores[0].(map[string]any); s0["replicas_up"] == nil {
		t.Fatalf("GET /cluster store: %v", stores[0])
	}
}

// A node removed while it was down, restarted on its old data, refuses to
// start with a clear error, exits non-zero, and leaves the cluster alone:
// the registry keeps its leader and the view never lists the node again.
func TestClusterRemovedNodeRefusedOnItsData(t *testing.T) {
	c := startProcCluster(t, 3)
	removeDeadNode(t, c, 3)
	before, err := c.Client.View(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}

	c.restart(3)
	stderr, exit := c.exited(3, 20*time.Second)
	if exit == nil || !strings.Contains(stderr, "node id 3 was removed from the cluster") {
		t.Fatalf("restarted removed node: exit %v, stderr:\n%s", exit, stderr)
	}
	v, err := c.Client.View(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := noNode(v, 3); err != nil || v.MetaLeader != before.MetaLeader {
		t.Fatalf("view after the removed node came back: %v, registry leader %d then %d", err, before.MetaLeader, v.MetaLeader)
	}
	appendSome(t, c.Client, "after", 3)
}

// A node removed while it runs stops serving and exits non-zero, saying
// that it was removed; the cluster serves on without it.
func TestClusterRemovedLiveNodeStops(t *testing.T) {
	c := startProcCluster(t, 3)
	appendSome(t, c.Client, "before", 3)
	if _, err := c.Client.RemoveNode(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	stderr, err := c.exited(3, 40*time.Second)
	if err == nil || !strings.Contains(stderr, "node id 3 was removed from the cluster") {
		t.Fatalf("removed node: exit %v, stderr:\n%s", err, stderr)
	}
	waitRemoved(t, c, 3)
	appendSome(t, c.Client, "after", 3)
}

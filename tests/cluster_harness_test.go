package tests

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// memCluster is a cluster of storenodes in this test process: real
// dragonboat NodeHosts on real disk talking over real TCP, one real NATS
// server, and a gateway. Nodes can be stopped and restarted on their data;
// process-level faults (kill -9) are in cluster_proc_test.go.
type memCluster struct {
	t     *testing.T
	ns    *server.Server
	url   string
	base  string // holds every node's data directory; removed after close
	mu    sync.Mutex
	nodes map[uint64]*memNode
	gatewayFront
}

type memNode struct {
	cfg node.Config
	nc  *nats.Conn
	n   *node.Node
}

// startNATS runs a NATS server for the test on a free loopback port.
func startNATS(t testing.TB) (*server.Server, string) {
	t.Helper()
	return startNATSWith(t, &server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
}

// startNATSWith runs a NATS server for the test with opts.
func startNATSWith(t testing.TB, opts *server.Options) (*server.Server, string) {
	t.Helper()
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start() // stopped by the cleanup below
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns, ns.ClientURL()
}

// newMemCluster prepares a cluster; add nodes with start.
func newMemCluster(t *testing.T) *memCluster {
	// The data directories' parent is made before the cleanup that stops the
	// nodes is registered, so the nodes stop before it is removed: a node
	// still running while its directory goes (a t.TempDir made later would
	// be removed first) can find its engine's files gone and exit the test.
	c := &memCluster{t: t, nodes: map[uint64]*memNode{}, base: t.TempDir()}
	c.ns, c.url = startNATS(t)
	t.Cleanup(c.close)
	return c
}

// startMemCluster starts a cluster of size nodes (see startAll) and its
// gateway.
func startMemCluster(t *testing.T, size int, configure ...func(*node.Config)) *memCluster {
	t.Helper()
	c := newMemCluster(t)
	c.startAll(size, configure...)
	return c
}

// nodeConfig returns a storenode configuration for node id in cluster
// "test" formed by size nodes; configure may adjust it.
func (c *memCluster) nodeConfig(id uint64, size int) node.Config {
	return node.Config{
		NodeID: id, RaftAddress: freeAddr(c.t), DataDir: c.dataDir(),
		ClusterName: "test", InitialSize: size, Logger: testLogger(),
		HeartbeatInterval: 200 * time.Millisecond,
	}
}

// dataDir makes a new node data directory under the cluster's base.
func (c *memCluster) dataDir() string {
	dir, err := os.MkdirTemp(c.base, "node-")
	if err != nil {
		c.t.Fatal(err)
	}
	return dir
}

// start starts a storenode with cfg (NATS filled in); it does not wait.
func (c *memCluster) start(cfg node.Config) *memNode {
	c.t.Helper()
	m := c.startLoose(cfg)
	c.mu.Lock()
	c.nodes[cfg.NodeID] = m
	c.mu.Unlock()
	return m
}

// startLoose starts a storenode the cluster does not track (for nodes that
// must be refused); it is closed at the end of the test.
func (c *memCluster) startLoose(cfg node.Config) *memNode {
	c.t.Helper()
	nc, err := nats.Connect(c.url, nats.MaxReconnects(-1))
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.NATS = nc
	n, err := node.Start(cfg)
	if err != nil {
		nc.Close()
		c.t.Fatalf("start node %d: %v", cfg.NodeID, err)
	}
	return &memNode{cfg: cfg, nc: nc, n: n}
}

func (m *memNode) close() {
	m.n.Close()
	m.nc.Close()
}

// startAll starts size nodes at once (ids 1..size) and waits until ready.
func (c *memCluster) startAll(size int, configure ...func(*node.Config)) {
	c.t.Helper()
	var cfgs []node.Config
	for i := 1; i <= size; i++ {
		cfg := c.nodeConfig(uint64(i), size)
		for _, f := range configure {
			f(&cfg)
		}
		cfgs = append(cfgs, cfg)
	}
	for _, cfg := range cfgs {
		c.start(cfg)
	}
	c.waitReady()
	c.startGateway()
}

// waitReady waits until every running node is ready.
func (c *memCluster) waitReady() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.mu.Lock()
	nodes := slices.Collect(maps.Values(c.nodes))
	c.mu.Unlock()
	for _, m := range nodes {
		if err := m.n.WaitReady(ctx); err != nil {
			c.t.Fatalf("node %d not ready: %v", m.cfg.NodeID, err)
		}
	}
}

func (c *memCluster) startGateway() {
	c.t.Helper()
	if c.gw == nil {
		c.startFront(c.t, c.url, 15*time.Second)
	}
}

// stop shuts a node down cleanly (its data stays).
func (c *memCluster) stop(id uint64) {
	c.mu.Lock()
	m := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if m != nil {
		m.n.Close()
		m.nc.Close()
	}
}

// restart starts a stopped node again on its data and address.
func (c *memCluster) restart(m *memNode) *memNode {
	c.t.Helper()
	return c.start(m.cfg)
}

func (c *memCluster) node(id uint64) *memNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *memCluster) close() {
	c.mu.Lock()
	ids := slices.Collect(maps.Keys(c.nodes))
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { c.stop(id) })
	}
	wg.Wait()
}

// view asks the cluster view through the gateway.
func (c *memCluster) view(ctx context.Context) *wire.ClusterView {
	c.t.Helper()
	v, err := c.Client.View(ctx)
	if err != nil {
		c.t.Fatalf("cluster view: %v", err)
	}
	return v
}

// shardsOf maps each of ids to its store's shard in the view.
func shardsOf(t *testing.T, v *wire.ClusterView, ids []string) map[string]uint64 {
	t.Helper()
	shards := map[string]uint64{}
	for _, id := range ids {
		s, err := storeOf(v, id)
		if err != nil {
			t.Fatal(err)
		}
		shards[id] = s.Shard
	}
	return shards
}

// ledInView waits until the cluster view shows the store with a leader and
// returns it as shown. The view is built from the nodes' heartbeats, so it
// lags up to a heartbeat behind: a store created and elected within one
// (elections do not wait for a timeout) is not led in it yet.
func ledInView(t *testing.T, c *memCluster, id string) wire.ClusterStore {
	t.Helper()
	var out wire.ClusterStore
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctxT(t)), id)
		if err != nil {
			return err
		}
		if s.Leader == 0 {
			return fmt.Errorf("store %s has no leader in the view: %+v", id, s)
		}
		out = s
		return nil
	})
	return out
}

// storeOf finds a store in the view.
func storeOf(v *wire.ClusterView, id string) (wire.ClusterStore, error) {
	for _, s := range v.Stores {
		if s.Store == id {
			return s, nil
		}
	}
	return wire.ClusterStore{}, fmt.Errorf("store %s not in the view", id)
}

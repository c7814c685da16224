package tests

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// chaosNet is a private network of Linux network namespaces for a process
// cluster, so that the chaos test can cut one storenode off the network
// (Raft and NATS at once) without stopping it:
//
//	host ns: test process (NATS server, gateway, clients) on veth <run>h, 169.254.X.254
//	  └─ <run>u ─┐
//	switch ns:  br0 (the bridge lives here: in the host namespace, Docker's
//	  ┌─ <run>s1 ┘  FORWARD DROP policy and bridge netfilter would drop
//	  │  <run>s2    everything it forwards)
//	node ns i:  eth0, 169.254.X.i (storenode i, started with ip netns exec)
//
// A partition is the switch-side veth of a node set down: the node's link
// loses carrier and every packet to or from it is dropped silently, as with
// a pulled cable. Its TCP connections stay open; NATS notices only after its
// ping interval, so the server keeps the node's subscriptions meanwhile.
//
// Addresses are link-local ones the test creates (169.254.X.0/24, X picked
// among the subnets not on this machine); nothing outside the machine is
// reached. Names are unique per run (prefix lbchaos); everything is removed
// in t.Cleanup (a test process killed before its cleanup leaves them:
// `ip netns list | grep lbchaos`, then `ip netns del` each).
type chaosNet struct {
	t      *testing.T
	run    string // lbchaos<hex>: namespace prefix and interface name prefix
	subnet int    // X in 169.254.X.0/24
	nodes  int
}

// netnsUnavailable says why network namespaces cannot be used here, or "".
// LOGBOOK_CHAOS_NETNS=0 keeps the test off the host's networking even as
// root.
func netnsUnavailable() string {
	if os.Getenv("LOGBOOK_CHAOS_NETNS") == "0" {
		return "LOGBOOK_CHAOS_NETNS=0"
	}
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2)"
	}
	return ""
}

// newChaosNet builds the network for nodes storenodes. It returns nil and
// the reason when namespaces cannot be used (not root, no ip command, no
// permission to create namespaces); the caller then runs without partitions.
func newChaosNet(t *testing.T, nodes int) (*chaosNet, string) {
	t.Helper()
	if why := netnsUnavailable(); why != "" {
		return nil, why
	}
	b := make([]byte, 2)
	rand.Read(b)
	n := &chaosNet{t: t, run: "lbchaos" + hex.EncodeToString(b), nodes: nodes}
	subnet, err := freeLinkLocalSubnet()
	if err != nil {
		return nil, err.Error()
	}
	n.subnet = subnet
	// Any failure while building (no permission for namespaces, no veth or
	// bridge support) means no partitions, not a failed test.
	var failed error
	ip := func(args ...string) {
		if failed == nil {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				failed = fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
		}
	}
	sw := n.switchNS()
	ip("netns", "add", sw)
	if failed != nil {
		return nil, failed.Error()
	}
	t.Cleanup(n.remove)
	ip("-n", sw, "link", "set", "lo", "up")
	ip("-n", sw, "link", "add", "br0", "type", "bridge")
	ip("-n", sw, "link", "set", "br0", "up")
	// The test process's leg: host <run>h ↔ switch <run>u.
	ip("link", "add", n.hostLink(), "type", "veth", "peer", "name", n.run+"u", "netns", sw)
	ip("-n", sw, "link", "set", n.run+"u", "master", "br0", "up")
	ip("addr", "add", n.HostAddr()+"/24", "dev", n.hostLink())
	ip("link", "set", n.hostLink(), "up")
	for id := 1; id <= nodes; id++ {
		ns := n.NodeNS(uint64(id))
		ip("netns", "add", ns)
		ip("-n", ns, "link", "set", "lo", "up")
		ip("link", "add", n.switchLink(uint64(id)), "netns", sw, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip("-n", sw, "link", "set", n.switchLink(uint64(id)), "master", "br0", "up")
		ip("-n", ns, "addr", "add", n.NodeAddr(uint64(id))+"/24", "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
	}
	if failed != nil {
		n.remove()
		return nil, failed.Error()
	}
	return n, ""
}

// freeLinkLocalSubnet picks X such that no address of this machine's
// namespace is in 169.254.X.0/24.
func freeLinkLocalSubnet() (int, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ip addr show: %v: %s", err, out)
	}
	for range 100 {
		x := 1 + mrand.IntN(254)
		if !strings.Contains(string(out), fmt.Sprintf(" 169.254.%d.", x)) {
			return x, nil
		}
	}
	return 0, fmt.Errorf("no free 169.254.X.0/24 subnet")
}

func (n *chaosNet) switchNS() string            { return n.run + "-sw" }
func (n *chaosNet) hostLink() string            { return n.run + "h" }
func (n *chaosNet) switchLink(id uint64) string { return fmt.Sprintf("%ss%d", n.run, id) }

// NodeNS is the namespace storenode id runs in.
func (n *chaosNet) NodeNS(id uint64) string { return fmt.Sprintf("%s-n%d", n.run, id) }

// NodeAddr is storenode id's address.
func (n *chaosNet) NodeAddr(id uint64) string { return fmt.Sprintf("169.254.%d.%d", n.subnet, id) }

// HostAddr is the test process's address on the network.
func (n *chaosNet) HostAddr() string { return fmt.Sprintf("169.254.%d.254", n.subnet) }

func (n *chaosNet) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cut partitions node id off: its link to the switch goes down.
func (n *chaosNet) cut(id uint64) {
	n.t.Helper()
	n.ip("-n", n.switchNS(), "link", "set", n.switchLink(id), "down")
}

// heal puts node id back on the network.
func (n *chaosNet) heal(id uint64) {
	n.t.Helper()
	n.ip("-n", n.switchNS(), "link", "set", n.switchLink(id), "up")
}

// remove deletes the namespaces and the host's veth (its peer goes with
// it). Errors are ignored: a half-built network is removed as far as it
// exists.
func (n *chaosNet) remove() {
	exec.Command("ip", "link", "del", n.hostLink()).Run()
	for id := 1; id <= n.nodes; id++ {
		exec.Command("ip", "netns", "del", n.NodeNS(uint64(id))).Run()
	}
	exec.Command("ip", "netns", "del", n.switchNS()).Run()
}

// startNetnsProcCluster is startProcCluster on a chaosNet: the NATS server
// listens on the host's address of the network, each storenode runs in its
// namespace (Raft and HTTP on its own address) and reaches NATS over the
// switch, and the gateway and the clients are in the test process.
func startNetnsProcCluster(t *testing.T, size int, n *chaosNet) *procCluster {
	_, url := startNATSWith(t, &server.Options{Host: n.HostAddr(), Port: -1, NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
	c := &procCluster{t: t, url: url, size: size, nodes: map[uint64]*procNode{}}
	t.Cleanup(c.close) // runs before the network's removal (registered earlier)
	for id := uint64(1); id <= uint64(size); id++ {
		addr := n.NodeAddr(id)
		c.launch(&procNode{id: id, dir: t.TempDir(), raft: addr + ":7100", http: addr + ":8080",
			prefix: []string{"ip", "netns", "exec", n.NodeNS(id)}})
	}
	for id := uint64(1); id <= uint64(size); id++ {
		c.waitReady(id)
	}
	c.startFront(t, url, 10*time.Second, nats.MaxReconnects(-1))
	return c
}

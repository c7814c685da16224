package tests

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Storenodes given -raft-tls-ca, -raft-tls-cert and -raft-tls-key (node 3
// through LOGBOOK_RAFT_TLS_*) form a cluster over mutual TLS and serve
// appends. A fresh storenode whose certificate another CA signed, and a
// plaintext one, ask to join: the registry's leader checks their Raft port
// first, so each is refused and exits saying why; the view never lists
// them and the cluster serves on.
func TestRaftMutualTLSCluster(t *testing.T) {
	pki := newTestPKI(t)
	c := startProcCluster(t, 3, func(p *procNode) {
		if p.id == 3 {
			p.env = []string{"LOGBOOK_RAFT_TLS_CA=" + pki.CA, "LOGBOOK_RAFT_TLS_CERT=" + pki.PeerCert, "LOGBOOK_RAFT_TLS_KEY=" + pki.PeerKey}
			return
		}
		p.args = []string{"-raft-tls-ca", pki.CA, "-raft-tls-cert", pki.PeerCert, "-raft-tls-key", pki.PeerKey}
	})
	appendSome(t, c.Client, "over-tls", 5)

	other := newTestPKI(t)
	intruders := []*procNode{
		{id: 4, args: []string{"-raft-tls-ca", other.CA, "-raft-tls-cert", other.PeerCert, "-raft-tls-key", other.PeerKey}},
		{id: 5}, // plaintext
	}
	for _, p := range intruders {
		p.dir, p.raft, p.http = t.TempDir(), freeAddr(t), freeAddr(t)
		c.launch(p)
		stderr, exit := c.exited(p.id, 40*time.Second)
		if exit == nil || !strings.Contains(stderr, "the cluster refused this node") || !strings.Contains(stderr, "certificate from this cluster's CA") {
			t.Fatalf("intruder %d: exit %v, stderr:\n%s", p.id, exit, stderr)
		}
	}
	v, err := c.Client.View(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range intruders {
		if err := noNode(v, p.id); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.Nodes) != 3 {
		t.Fatalf("the view lists %d nodes, want 3: %+v", len(v.Nodes), v.Nodes)
	}
	// Speaking Raft straight at a member's port, in plaintext (a frame's
	// magic and a header) or with a foreign certificate: the connection is
	// closed and counted as refused; the cluster serves on.
	target := c.node(1)
	before := value(scrape(t, target.http), "logbook_raft_connections_refused_total")
	plain, err := net.Dial("tcp", target.raft)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write(append([]byte{0xAE, 0x7D}, make([]byte, 18)...))
	wantClosed(t, plain)
	cert, err := tls.LoadX509KeyPair(other.PeerCert, other.PeerKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tls.Dial("tcp", target.raft, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err) // our side of a TLS 1.3 handshake ends before the node checks our certificate
	}
	defer foreign.Close()
	wantClosed(t, foreign)
	eventually(t, 10*time.Second, func() error {
		if got := value(scrape(t, target.http), "logbook_raft_connections_refused_total"); got < before+2 {
			return fmt.Errorf("logbook_raft_connections_refused_total went from %v to %v, want 2 more", before, got)
		}
		return nil
	})
	appendSome(t, c.Client, "over-tls", 5)
}

// wantClosed waits for the other end to close conn (a read ends with an
// error other than a timeout).
func wantClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := conn.Read(b[:]); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the node did not close an intruder's connection (%v)", err)
	}
}

package tests

import (
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
	c := startProcClusterWith(t, 3, func(p *procNode) {
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
	appendSome(t, c.Client, "over-tls", 5)
}

package tests

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logbookdb/logbook/internal/pki"
)

// testPKI is a certificate authority made for one test, with a server
// certificate for 127.0.0.1 and localhost and a client certificate, as PEM
// files in a temporary directory (nothing is committed).
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// PeerCert and PeerKey are good for both ends of a connection
	// (serverAuth and clientAuth), as storenodes' Raft certificates must be.
	PeerCert, PeerKey string
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("logbook test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := func(name string, usages []x509.ExtKeyUsage) (cert, key string) {
		c, k, err := ca.Issue(name, []string{"127.0.0.1", "localhost"}, usages, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", c), write(name+"-key.pem", k)
	}
	p := testPKI{CA: write("ca.pem", ca.CertPEM())}
	p.ServerCert, p.ServerKey = leaf("server", pki.ServerAuth)
	p.ClientCert, p.ClientKey = leaf("client", pki.ClientAuth)
	p.PeerCert, p.PeerKey = leaf("peer", pki.PeerAuth)
	return p
}

// writeSecret writes a secret (a password, a token, a seed) to a file of
// its own and returns the path.
func writeSecret(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

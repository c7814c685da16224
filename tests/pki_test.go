package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	template := func(serial int64, name string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
	}
	caKey := newKey(t)
	var ca *x509.Certificate // nil until issued: the CA signs itself
	// issue signs tmpl for key with the CA and writes the certificate and
	// the key as name.pem and name-key.pem.
	issue := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, name string) (certFile, keyFile string) {
		parent := ca
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, caKey)
		if err == nil && ca == nil {
			ca, err = x509.ParseCertificate(der)
		}
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", kder)
	}
	caTmpl := template(1, "logbook test CA")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage |= x509.KeyUsageCertSign
	var p testPKI
	p.CA, _ = issue(caTmpl, caKey, "ca")
	leaf := func(serial int64, name string, usage ...x509.ExtKeyUsage) (cert, key string) {
		tmpl := template(serial, name)
		tmpl.ExtKeyUsage = usage
		tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
		return issue(tmpl, newKey(t), name)
	}
	p.ServerCert, p.ServerKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	p.PeerCert, p.PeerKey = leaf(4, "peer", x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
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

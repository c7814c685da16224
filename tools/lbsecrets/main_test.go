package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The secrets make a NATS server that requires TLS and passwords, whose
// users are the ones docs/security.md describes, and Raft certificates
// for every storenode address of deploy/.
func TestSecrets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "secrets")
	args := []string{"-out", out, "-nats-dir", filepath.Join(out, "nats"), "-tenants", "acme=acme;globex=globex,globex-test"}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	if err := run(args); err == nil || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("a second run over the secrets: %v, want a refusal", err)
	}
	read := func(rel string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if fi, err := os.Stat(filepath.Join(out, "ca")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("ca/: %v, %v", fi, err)
	}

	opts, err := server.ProcessConfigFile(filepath.Join(out, "nats", "auth.conf"))
	if err != nil {
		t.Fatalf("auth.conf: %v\n%s", err, read("nats/auth.conf"))
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	url := ns.ClientURL()
	connect := func(user, dir string) (*nats.Conn, error) {
		o := []nats.Option{nats.RootCAs(filepath.Join(out, dir, "nats-ca.pem")), nats.Timeout(5 * time.Second), nats.NoReconnect()}
		if user != "" {
			o = append(o, nats.UserInfo(user, strings.TrimSpace(string(read(dir+"/nats-password")))))
		}
		return nats.Connect(url, o...)
	}
	if nc, err := connect("", "admin"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous: %v", err)
	}
	if nc, err := connect("acme", "tenants/globex"); err == nil {
		nc.Close()
		t.Fatal("acme connected with globex's password")
	}
	admin, err := connect("admin", "admin")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if !admin.TLSRequired() {
		t.Error("the server does not require TLS")
	}
	svc, err := connect("logbook", "gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	acme, err := connect("acme", "tenants/acme")
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Close()

	// The service user serves the store subjects; acme reaches its own store only.
	sub, err := svc.SubscribeSync("store.>")
	if err != nil {
		t.Fatal(err)
	}
	svc.Flush()
	acme.Publish("store.globex.append", []byte("no"))
	acme.Publish("store.acme.append", []byte("yes"))
	acme.Flush()
	if m, err := sub.NextMsg(5 * time.Second); err != nil || m.Subject != "store.acme.append" {
		t.Fatalf("the service received %v, %v; want acme's request only", m, err)
	}
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("the service received %s too", m.Subject)
	}

	// Certificates: NATS for every name a client dials; Raft for every
	// storenode address, both ways, from the Raft CA only.
	pool := func(rel string) *x509.CertPool {
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(read(rel))
		return p
	}
	leaf := func(rel string) *x509.Certificate {
		b, _ := pem.Decode(read(rel))
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	natsCert := leaf("nats/server.pem")
	for _, host := range []string{"nats", "logbook-nats", "127.0.0.1", "localhost"} {
		if _, err := natsCert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool("admin/nats-ca.pem")}); err != nil {
			t.Errorf("NATS certificate for %s: %v", host, err)
		}
	}
	raft := leaf("storenode/raft.pem")
	for _, host := range []string{"storenode-1", "storenode-3", "logbook-storenode-0.logbook-storenode.default.svc"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := raft.Verify(x509.VerifyOptions{DNSName: host, Roots: pool("storenode/raft-ca.pem"), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("Raft certificate for %s (%v): %v", host, usage, err)
			}
		}
	}
	if _, err := raft.Verify(x509.VerifyOptions{Roots: pool("storenode/nats-ca.pem")}); err == nil {
		t.Error("the NATS CA signed the Raft certificate")
	}
	if _, err := tls.X509KeyPair(read("storenode/raft.pem"), read("storenode/raft-key.pem")); err != nil {
		t.Error(err)
	}
}

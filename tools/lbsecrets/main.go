// Command lbsecrets writes the secrets of deploy/ (Compose and Kubernetes):
// the certificate authorities, certificates and passwords, and the NATS
// server's TLS and authorization configuration, into a directory that is
// never committed (deploy/secrets by default, git-ignored). Run it once at
// set-up through deploy/gen-secrets.sh; see docs/security.md.
//
// Layout (each directory is what one kind of container mounts):
//
//	ca/               the CAs' keys: keep them off every container
//	nats/             auth.conf (TLS and users), server.pem, server-key.pem: NATS, on /etc/nats/secrets
//	storenode/        nats-ca.pem, nats-password, raft-ca.pem, raft.pem, raft-key.pem: storenodes, on /etc/logbook
//	gateway/          nats-ca.pem, nats-password: gateways, on /etc/logbook
//	admin/            nats-ca.pem, nats-password: the operators' NATS user "admin"
//	tenants/<user>/   nats-ca.pem, nats-password: a tenant's NATS user
package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/logbookdb/logbook/internal/pki"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"golang.org/x/crypto/bcrypt"
)

// ServiceSubscribe is what Logbook's own NATS user may subscribe to
// (docs/security.md): the client subjects its gateways serve, the internal
// protocol, the micro-service verbs and its own reply inboxes. It publishes
// anywhere: answers go to whatever inbox a client names.
var ServiceSubscribe = []string{"store.>", "stores.>", "cluster.>", "_LB.>", "_LB_INBOX.>", "$SRV.>", "_INBOX.>"}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lbsecrets:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("lbsecrets", flag.ContinueOnError)
	out := fs.String("out", "deploy/secrets", "directory to write (created; must not exist unless -force)")
	force := fs.Bool("force", false, "replace an existing directory: new CAs, certificates and passwords (restart everything)")
	namespace := fs.String("namespace", "default", "Kubernetes namespace of deploy/k8s (names in the certificates)")
	storenodes := fs.Int("storenodes", 3, "Compose storenodes storenode-1…N named in the Raft certificate")
	tenants := fs.String("tenants", "acme=acme", "tenants: user=store[,store...] separated by ';' (each a NATS user with exactly these stores)")
	natsDir := fs.String("nats-dir", "/etc/nats/secrets", "where the NATS container mounts nats/ (auth.conf names its files there)")
	validity := fs.Duration("validity", 825*24*time.Hour, "validity of the certificates (the CAs get ten years)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	users, err := parseTenants(*tenants)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		if !*force {
			return fmt.Errorf("%s exists: keep it, or give -force to replace every secret in it", *out)
		}
		if err := os.RemoveAll(*out); err != nil {
			return err
		}
	}
	w := &writer{root: *out}
	// The top directory is the host's: only its owner enters it. What the
	// containers mount is readable inside it (they run as user 65534).
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}

	// Two CAs: any certificate the Raft CA signs is a full cluster member,
	// so it signs nothing else.
	const caValidity = 10 * 365 * 24 * time.Hour
	natsCA, err := pki.NewCA("logbook NATS CA", caValidity)
	if err != nil {
		return err
	}
	raftCA, err := pki.NewCA("logbook Raft CA", caValidity)
	if err != nil {
		return err
	}
	for name, ca := range map[string]*pki.CA{"nats-ca-key.pem": natsCA, "raft-ca-key.pem": raftCA} {
		k, err := ca.KeyPEM()
		if err != nil {
			return err
		}
		w.file("ca/"+name, k, 0o600)
	}
	w.file("ca/nats-ca.pem", natsCA.CertPEM(), 0o644)
	w.file("ca/raft-ca.pem", raftCA.CertPEM(), 0o644)
	if w.err == nil {
		w.err = os.Chmod(filepath.Join(*out, "ca"), 0o700)
	}

	// NATS: the names clients dial (Compose, Kubernetes, the host's loopback).
	ns := *namespace
	natsHosts := []string{"nats", "logbook-nats", "logbook-nats." + ns, "logbook-nats." + ns + ".svc",
		"logbook-nats." + ns + ".svc.cluster.local", "localhost", "127.0.0.1", "::1"}
	cert, key, err := natsCA.Issue("logbook-nats", natsHosts, pki.ServerAuth, *validity)
	if err != nil {
		return err
	}
	w.file("nats/server.pem", cert, 0o644)
	w.file("nats/server-key.pem", key, 0o644)

	// Raft: one certificate for every storenode, naming each address.
	var raftHosts []string
	for i := 1; i <= *storenodes; i++ {
		raftHosts = append(raftHosts, "storenode-"+strconv.Itoa(i))
	}
	raftHosts = append(raftHosts, "*.logbook-storenode."+ns+".svc", "*.logbook-storenode."+ns+".svc.cluster.local")
	cert, key, err = raftCA.Issue("logbook-storenode", raftHosts, pki.PeerAuth, *validity)
	if err != nil {
		return err
	}
	w.file("storenode/raft.pem", cert, 0o644)
	w.file("storenode/raft-key.pem", key, 0o644)
	w.file("storenode/raft-ca.pem", raftCA.CertPEM(), 0o644)

	// Users: Logbook's processes, the operators, the tenants.
	var conf strings.Builder
	fmt.Fprintf(&conf, "# Written by tools/lbsecrets (deploy/gen-secrets.sh): TLS and users of Logbook's NATS.\n"+
		"# Never commit it. Included by deploy/docker/nats.conf. docs/security.md explains it.\n"+
		"tls {\n  cert_file: %q\n  key_file: %q\n  timeout: 2\n}\n"+
		"authorization {\n  users: [\n",
		filepath.ToSlash(filepath.Join(*natsDir, "server.pem")), filepath.ToSlash(filepath.Join(*natsDir, "server-key.pem")))
	user := func(name, dir string, publish, subscribe []string) error {
		pw, hash, err := password()
		if err != nil {
			return err
		}
		for _, d := range []string{dir} {
			w.file(d+"/nats-password", []byte(pw+"\n"), 0o644)
			w.file(d+"/nats-ca.pem", natsCA.CertPEM(), 0o644)
		}
		fmt.Fprintf(&conf, "    { user: %q, password: %q", name, hash)
		if publish != nil || subscribe != nil {
			conf.WriteString(", permissions: {")
			var perms []string
			if publish != nil {
				perms = append(perms, fmt.Sprintf(" publish: { allow: %s }", list(publish)))
			}
			if subscribe != nil {
				perms = append(perms, fmt.Sprintf(" subscribe: { allow: %s }", list(subscribe)))
			}
			conf.WriteString(strings.Join(perms, ",") + " }")
		}
		conf.WriteString(" }\n")
		return nil
	}
	// The storenodes and the gateways share the service user.
	if err := user("logbook", "storenode", nil, ServiceSubscribe); err != nil {
		return err
	}
	w.copy("storenode/nats-password", "gateway/nats-password")
	w.file("gateway/nats-ca.pem", natsCA.CertPEM(), 0o644)
	if err := user("admin", "admin", nil, nil); err != nil {
		return err
	}
	for _, t := range users {
		pub, sub := subjects.TenantPermissions(t.stores, tenantInbox(t.user))
		if err := user(t.user, "tenants/"+t.user, pub, sub); err != nil {
			return err
		}
	}
	conf.WriteString("  ]\n}\n")
	w.file("nats/auth.conf", []byte(conf.String()), 0o644)
	if w.err != nil {
		return w.err
	}
	fmt.Printf("wrote the secrets of deploy/ in %s (never commit them)\n", *out)
	for _, t := range users {
		fmt.Printf("tenant %s: stores %s, password in %s, reply prefix %s\n", t.user, strings.Join(t.stores, ","),
			filepath.Join(*out, "tenants", t.user, "nats-password"), tenantInbox(t.user))
	}
	return nil
}

// tenantInbox is the private reply prefix of a tenant (docs/security.md).
func tenantInbox(user string) string { return "_INBOX_" + user }

type tenant struct {
	user   string
	stores []string
}

func parseTenants(s string) ([]tenant, error) {
	var out []tenant
	seen := map[string]bool{"logbook": true, "admin": true}
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		user, list, ok := strings.Cut(entry, "=")
		if !ok || !validUser(user) || seen[user] {
			return nil, fmt.Errorf("-tenants: %q: want user=store[,store...] with a new user name of letters, digits, _ and -", entry)
		}
		seen[user] = true
		t := tenant{user: user}
		for _, st := range strings.Split(list, ",") {
			if err := wire.ValidateStoreID(st); err != nil {
				return nil, fmt.Errorf("-tenants: %s: %w", user, err)
			}
			t.stores = append(t.stores, st)
		}
		out = append(out, t)
	}
	return out, nil
}

func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// password returns a new random password and its bcrypt hash (what the
// NATS configuration holds, so that the file does not reveal it). The
// password is 192 random bits, beyond any guessing whatever the hash's
// cost, so the cost is bcrypt's least: the server checks the hash at every
// connection, and at cost 11 a few dozen processes reconnecting at once
// kept a small NATS server busy for half a minute.
func password() (pw, hash string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	pw = base64.RawURLEncoding.EncodeToString(b)
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		return "", "", err
	}
	return pw, string(h), nil
}

func list(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// writer writes files under root, creating their directories, and keeps
// the first error.
type writer struct {
	root string
	err  error
}

func (w *writer) file(rel string, data []byte, mode os.FileMode) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = err
		return
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		w.err = err
		return
	}
	w.err = os.Chmod(p, mode) // whatever the umask
}

func (w *writer) copy(from, to string) {
	if w.err != nil {
		return
	}
	b, err := os.ReadFile(filepath.Join(w.root, filepath.FromSlash(from)))
	if err != nil {
		w.err = errors.Join(w.err, err)
		return
	}
	w.file(to, b, 0o644)
}

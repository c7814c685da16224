package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/nats-io/nats.go"
)

// natsOptions are the NATS options of a user of the deployment, whose
// password and CA deploy/gen-secrets.sh wrote in secrets/<dir>/ ("admin",
// "tenants/acme"); inbox is its reply prefix ("" for _INBOX).
func (d *deployment) natsOptions(user, inbox string) []nats.Option {
	d.t.Helper()
	dir := user
	if user != "admin" {
		dir = filepath.Join("tenants", user)
	}
	var cfg natsauth.Config
	if user != "" {
		pw, err := os.ReadFile(filepath.Join(d.secrets, dir, "nats-password"))
		if err != nil {
			d.t.Fatal(err)
		}
		cfg = natsauth.Config{User: user, Password: strings.TrimSpace(string(pw)),
			CAFile: filepath.Join(d.secrets, dir, "nats-ca.pem"), InboxPrefix: inbox}
	} else {
		cfg = natsauth.Config{CAFile: filepath.Join(d.secrets, "admin", "nats-ca.pem")}
	}
	opts, err := cfg.Options()
	if err != nil {
		d.t.Fatalf("NATS options of %q: %v", user, err)
	}
	return opts
}

// checkSecurity: the deployed NATS refuses a plaintext client and one
// without credentials; the example tenant acme (deploy/gen-secrets.sh)
// uses its store and cannot reach another.
func (d *deployment) checkSecurity(ctx context.Context, admin *client.Client, url string) {
	t := d.t
	t.Helper()
	// Plaintext: the server requires TLS and drops a client speaking NATS
	// in the clear (nats.go would upgrade on its own, so speak it by hand).
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("the server's INFO does not require TLS: %q, %v", info, err)
	}
	fmt.Fprint(conn, "CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"x\"}\r\nPING\r\n")
	if line, err := r.ReadString('\n'); err == nil && strings.HasPrefix(line, "PONG") {
		t.Fatalf("a plaintext client was served: %q", line)
	}

	// No credentials, over TLS: an authorization violation.
	if nc, err := nats.Connect(url, append(d.natsOptions("", ""), nats.NoReconnect(), nats.Timeout(5*time.Second))...); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("a client without credentials: %v, want an authorization violation", err)
	}

	// The tenant: its store (created by an operator), not the default one.
	if _, err := admin.Stores().Create(ctx, "acme", nil); err != nil {
		t.Fatalf("create store acme: %v", err)
	}
	acme, err := client.Connect(url, client.WithoutRetry(), client.WithTimeout(2*time.Second),
		client.WithNATSOptions(d.natsOptions("acme", "_INBOX_acme")...))
	if err != nil {
		t.Fatalf("connect as tenant acme: %v", err)
	}
	defer acme.Close()
	var appended bool
	for i := 0; i < 20 && !appended; i++ { // the new store elects its leader
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = acme.Store("acme").Append(actx, "orders", client.Any, ev("Placed", `"1"`))
		cancel()
		var ce *codes.Error
		if appended = err == nil; !appended && errors.As(err, &ce) && ce.Code < 50000 {
			break
		}
	}
	if !appended {
		t.Fatalf("tenant acme appends to its store: %v", err)
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := acme.Store("default").Append(actx, "orders", client.Any, ev("Forged", `"1"`)); err == nil {
		t.Fatal("tenant acme appended to the default store")
	}
	if _, err := acme.Stores().Remove(actx, "acme"); err == nil {
		t.Fatal("tenant acme removed a store")
	}
	t.Log("NATS refused a plaintext and an unauthenticated client; tenant acme used its store and no other")
}

// checkViolations reads NATS's log: the tenant's attempts were refused by
// NATS (a publish violation of user acme), and Logbook's own processes
// never met their permissions (none of user logbook).
func (d *deployment) checkViolations(ctx context.Context) {
	d.t.Helper()
	out, err := d.compose(ctx, "logs", "--no-color", "nats")
	if err != nil {
		d.t.Fatalf("NATS logs: %v", err)
	}
	var acme bool
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "Violation") {
			continue
		}
		if strings.Contains(line, "user:logbook") {
			d.t.Errorf("Logbook's service user met its permissions: %s", line)
		}
		acme = acme || strings.Contains(line, "user:acme") && strings.Contains(line, "store.default.append")
	}
	if !acme {
		d.t.Errorf("NATS logged no publish violation of tenant acme on store.default.append")
	}
}

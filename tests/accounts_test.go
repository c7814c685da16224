package tests

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// accountsConfig is a nats-server configuration with tenants as accounts
// (docs/security.md, "Tenants as accounts"): Logbook's account LOGBOOK
// (its processes and an admin) exports its client subjects as services and
// the live events as a stream; ACME imports store acme's service and its
// live events — and, misconfigured, every store and the store lifecycle;
// OPS imports the lifecycle and cluster operations for its operators;
// STRANGER imports every store but is not one of the gateway's accounts.
const accountsConfig = `
accounts {
  LOGBOOK {
    users = [ { user: logbook, password: svc-pw }, { user: admin, password: admin-pw } ]
    exports = [
      { service: "store.>" }
      { service: "stores.*" }
      { service: "cluster.*" }
      { stream: "events.>" }
    ]
  }
  ACME {
    users = [ { user: acme, password: acme-pw } ]
    imports = [
      { service: { account: LOGBOOK, subject: "store.acme.>" }, share: true }
      # The misconfiguration: every store, and the store lifecycle.
      { service: { account: LOGBOOK, subject: "store.>" }, share: true }
      { service: { account: LOGBOOK, subject: "stores.*" }, share: true }
      { stream: { account: LOGBOOK, subject: "events.acme.>" } }
    ]
  }
  OPS {
    users = [ { user: ops, password: ops-pw } ]
    imports = [
      { service: { account: LOGBOOK, subject: "stores.*" }, share: true }
      { service: { account: LOGBOOK, subject: "cluster.*" }, share: true }
    ]
  }
  STRANGER {
    users = [ { user: stranger, password: stranger-pw } ]
    imports = [ { service: { account: LOGBOOK, subject: "store.>" } } ]
  }
}
`

// Tenants as accounts. NATS names the requester's account in
// Nats-Request-Info on a request that crossed a service import, and the
// gateway, configured with the accounts it lets through (ACME=acme, OPS=*),
// checks it: ACME uses its store fully, but its misconfigured imports of
// every store and of the lifecycle reach nothing else (forbidden, nothing
// changed); an account the gateway does not know is refused; OPS
// administers. The admin operations are logged with their caller: the
// account, user and connection name NATS gives, or "unknown" and the reply
// prefix for a request from Logbook's own account.
func TestTenantAccountsCheckedAtTheGateway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(accountsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("load the accounts configuration: %v", err)
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	_, url := startNATSWith(t, opts)

	logs := &syncBuffer{}
	accounts, err := gateway.ParseAccounts("ACME=acme; OPS=*")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lb, err := embed.Start(ctx, embed.Config{NATSURL: url, NATSOptions: []nats.Option{nats.UserInfo("logbook", "svc-pw")},
		DataDir: t.TempDir(), RaftAddress: freeAddr(t), GatewayAccounts: accounts,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })

	connect := func(user, pw, name string) *client.Client {
		t.Helper()
		c, err := client.Connect(url, client.WithoutRetry(), client.WithTimeout(5*time.Second),
			client.WithNATSOptions(nats.UserInfo(user, pw), nats.Name(name)))
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		t.Cleanup(c.Close)
		return c
	}
	admin := connect("admin", "admin-pw", "admin-console")
	ops := connect("ops", "ops-pw", "ops-console")
	acme := connect("acme", "acme-pw", "acme-app")
	stranger := connect("stranger", "stranger-pw", "stranger-app")

	// An operator of OPS creates the stores through its import.
	for _, id := range []string{"acme", "beta"} {
		if _, err := ops.Stores().Create(ctx, id, nil); err != nil {
			t.Fatalf("OPS creates %s: %v", id, err)
		}
	}
	if _, err := admin.Store("beta").Append(ctx, "secrets", client.NoStream, ev("Secret", `"x"`)); err != nil {
		t.Fatal(err)
	}

	// ACME: its own store, with its live events through the stream import
	// (no private inbox prefix needed: each account has its own _INBOX).
	live, err := acme.Conn().SubscribeSync("events.acme.>")
	if err != nil {
		t.Fatal(err)
	}
	acme.Conn().Flush()
	own := acme.Store("acme")
	if _, err := own.Append(ctx, "orders", client.NoStream, ev("Placed", `"1"`)); err != nil {
		t.Fatalf("ACME appends to acme: %v", err)
	}
	if page, err := own.Read(ctx, "orders", client.ReadOptions{}); err != nil || len(page.Events) != 1 {
		t.Fatalf("ACME reads acme: %v", err)
	}
	if st, err := own.Status(ctx); err != nil || st.Store != "acme" {
		t.Fatalf("ACME's store status: %+v, %v", st, err)
	}
	if m, err := live.NextMsg(10 * time.Second); err != nil || !strings.HasPrefix(m.Subject, "events.acme.") {
		t.Fatalf("ACME's live event: %v", err)
	}

	// ACME through its misconfigured imports: refused by the gateway with
	// forbidden, whatever the operation.
	other := acme.Store("beta")
	_, err = other.Append(ctx, "secrets", client.Any, ev("Forged", `"y"`))
	wantCode(t, err, codes.Forbidden)
	_, err = other.Read(ctx, "secrets", client.ReadOptions{})
	wantCode(t, err, codes.Forbidden)
	_, err = other.Status(ctx)
	wantCode(t, err, codes.Forbidden)
	_, err = acme.Stores().Remove(ctx, "beta")
	wantCode(t, err, codes.Forbidden)
	_, err = acme.Stores().Create(ctx, "acme2", nil)
	wantCode(t, err, codes.Forbidden)
	// An account the gateway does not list: refused even for store acme.
	_, err = stranger.Store("acme").Read(ctx, "orders", client.ReadOptions{})
	wantCode(t, err, codes.Forbidden)

	// Nothing of that changed anything.
	page, err := admin.Store("beta").Read(ctx, "secrets", client.ReadOptions{})
	if err != nil || len(page.Events) != 1 || page.Events[0].Type != "Secret" {
		t.Fatalf("beta after ACME's attempts: %+v, %v", page, err)
	}
	if _, err := admin.Stores().Status(ctx, "acme2"); err == nil {
		t.Fatal("ACME created a store")
	}

	// The admin operations, logged with their caller.
	if _, err := admin.Stores().Create(ctx, "gamma", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Stores().Remove(ctx, "gamma"); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Stores().Remove(ctx, "default"); err == nil {
		t.Fatal("removed the default store")
	}
	out := logs.String()
	for _, want := range []string{
		`msg="gateway: admin operation" component=gateway op=stores.create target=acme outcome=ok caller_account=OPS caller_user=ops caller_name=ops-console`,
		`msg="gateway: admin operation" component=gateway op=stores.remove target=beta outcome=forbidden caller_account=ACME caller_user=acme caller_name=acme-app`,
		`msg="gateway: admin operation" component=gateway op=stores.create target=gamma outcome=ok caller=unknown reply_prefix=_INBOX`,
		`msg="gateway: admin operation" component=gateway op=stores.remove target=gamma outcome=ok caller_account=OPS caller_user=ops`,
		`msg="gateway: admin operation" component=gateway op=stores.remove target=default outcome=store_protected caller_account=OPS`,
		`msg="gateway: request refused for the caller's account" component=gateway subject=store.beta.append`,
		`caller_account=STRANGER`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	for _, secret := range []string{"svc-pw", "admin-pw", "ops-pw", "acme-pw", "stranger-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold the password %s", secret)
		}
	}
	if t.Failed() {
		t.Logf("gateway logs:\n%s", grepLines(out, "component=gateway"))
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			fmt.Fprintln(&b, l)
		}
	}
	return b.String()
}

// Without -tenant-accounts the gateway checks nothing (as before): requests
// from other accounts are served through their imports, the misconfigured
// one included. NATS's exports and imports are then the only line, which
// the test above shows the gateway's check backing up.
func TestTenantAccountsWithoutGatewayCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(accountsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	_, url := startNATSWith(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lb, err := embed.Start(ctx, embed.Config{NATSURL: url, NATSOptions: []nats.Option{nats.UserInfo("logbook", "svc-pw")},
		DataDir: t.TempDir(), RaftAddress: freeAddr(t), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	acme, err := client.Connect(url, client.WithTimeout(10*time.Second), client.WithNATSOptions(nats.UserInfo("acme", "acme-pw")))
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Close()
	if _, err := acme.Stores().Create(ctx, "beta", nil); err != nil {
		t.Fatalf("through the misconfigured import, without the gateway's check: %v", err)
	}
	if _, err := acme.Store("beta").Append(ctx, "orders", client.NoStream, ev("Placed", `"1"`)); err != nil {
		t.Fatalf("append through an import (an _R_. reply): %v", err)
	}
}

package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// tenantServerConfig is a nats-server configuration with the users of the
// tenant test: Logbook's service user, an admin, and tenant acme as
// `lbctl tenant acme acme` prints it (its password from $ACME_PASSWORD).
func tenantServerConfig(t *testing.T) *server.Options {
	t.Helper()
	out, err := exec.Command(buildBinary(t, "github.com/logbookdb/logbook/tools/lbctl"), "tenant", "acme", "acme").CombinedOutput()
	if err != nil {
		t.Fatalf("lbctl tenant: %v\n%s", err, out)
	}
	conf := "authorization {\n  users = [\n    { user: \"logbook\", password: \"svc-pw\" }\n    { user: \"admin\", password: \"admin-pw\" }\n" +
		string(out) + "\n  ]\n}\n"
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_PASSWORD", "acme-pw")
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("the configuration lbctl tenant printed does not load: %v\n%s", err, conf)
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	return opts
}

// A tenant given the permissions of docs/security.md (as `lbctl tenant`
// prints them, loaded by nats-server) uses its own store
// fully — append, read, its status, its live events — and reaches nothing
// else: not another store's events, status or live events, not the store
// lifecycle, not other clients' replies; and what it tries harms nothing.
func TestTenantSeesOnlyItsStore(t *testing.T) {
	_, url := startNATSWith(t, tenantServerConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lb, err := embed.Start(ctx, embed.Config{NATSURL: url, NATSOptions: []nats.Option{nats.UserInfo("logbook", "svc-pw")},
		DataDir: t.TempDir(), RaftAddress: freeAddr(t), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })

	admin, err := client.Connect(url, client.WithNATSOptions(nats.UserInfo("admin", "admin-pw")))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, id := range []string{"acme", "globex"} {
		if _, err := admin.Stores().Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Store("globex").Append(ctx, "secrets", client.Any, ev("Secret", "x")); err != nil {
		t.Fatal(err)
	}

	acme, err := client.Connect(url, client.WithoutRetry(), client.WithTimeout(2*time.Second),
		client.WithNATSOptions(nats.UserInfo("acme", "acme-pw"), nats.CustomInboxPrefix("_INBOX_acme")))
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Close()
	own := acme.Store("acme")

	// Its own store: everything.
	got := make(chan *client.RecordedEvent, 1)
	sub, err := own.Subscribe(ctx, 0, client.SubscribeFilter{}, func(e *client.RecordedEvent) { got <- e })
	if err != nil {
		t.Fatalf("catch-up subscription on its store: %v", err)
	}
	defer sub.Stop()
	if _, err := own.Append(ctx, "orders", client.Any, ev("Placed", "1")); err != nil {
		t.Fatalf("append to its store: %v", err)
	}
	select {
	case e := <-got:
		if e.Type != "Placed" {
			t.Fatalf("live event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live event of its own store")
	}
	if page, err := own.Read(ctx, "orders", client.ReadOptions{}); err != nil || len(page.Events) != 1 {
		t.Fatalf("read of its store: %v", err)
	}
	if st, err := own.Status(ctx); err != nil || st.Store != "acme" {
		t.Fatalf("status of its store: %+v, %v", st, err)
	}
	// A persistent subscription delivers to the tenant's private inbox.
	if _, err := own.CreateSubscription(ctx, "work", client.SubscriptionOptions{}); err != nil {
		t.Fatalf("create a persistent subscription: %v", err)
	}
	delivered := make(chan string, 1)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	go own.Consume(cctx, "work", func(ctx context.Context, m *client.Message) {
		m.Ack(ctx)
		select {
		case delivered <- m.Event.Type:
		default:
		}
	}, client.ConsumeOptions{})
	select {
	case typ := <-delivered:
		if typ != "Placed" {
			t.Fatalf("delivered %s", typ)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery of the persistent subscription to the tenant's inbox")
	}
	stopConsumer()

	// Anything else: refused (NATS drops the request; the client times out).
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	other := acme.Store("globex")
	if _, err := other.Append(short(), "secrets", client.Any, ev("Forged", "y")); err == nil {
		t.Fatal("appended to another tenant's store")
	}
	if _, err := other.Read(short(), "secrets", client.ReadOptions{}); err == nil {
		t.Fatal("read another tenant's store")
	}
	if _, err := other.Status(short()); err == nil {
		t.Fatal("read another tenant's store status")
	}
	if _, err := acme.Stores().Remove(short(), "acme"); err == nil {
		t.Fatal("removed a store")
	}
	if _, err := acme.Stores().List(short(), "", 10); err == nil {
		t.Fatal("listed the stores")
	}
	// Subscriptions outside its permissions receive nothing: another store's
	// live events, other clients' replies, the internal subjects.
	spies := map[string]*nats.Subscription{}
	for _, subject := range []string{"events.globex.>", "_INBOX.>", "_LB.>"} {
		s, err := acme.Conn().SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		spies[subject] = s
	}
	acme.Conn().Flush()
	if _, err := admin.Store("globex").Append(ctx, "secrets", client.Any, ev("Secret", "z")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Store("globex").Read(ctx, "secrets", client.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	for subject, s := range spies {
		if m, err := s.NextMsg(time.Second); err == nil {
			t.Errorf("the tenant received %s on %s", m.Subject, subject)
		} else if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrPermissionViolation) && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
			t.Logf("%s: %v", subject, err)
		}
	}
	// A reply subject aimed at another store's internal subject: the
	// gateway must not publish its answer there (NATS checks the subject a
	// client publishes to, not its reply subject). Here the answer of a
	// psub_delete of acme's "work" has the shape of a psub_delete request,
	// so it would delete globex's "work" on globex's leader.
	if _, err := admin.Store("globex").CreateSubscription(ctx, "work", client.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	deputy := &nats.Msg{Subject: "store.acme.psub_delete", Reply: "_LB.leader.globex.psub_delete", Data: mp(t, map[string]any{"subscription": "work"})}
	if err := acme.Conn().PublishMsg(deputy); err != nil {
		t.Fatal(err)
	}
	acme.Conn().Flush()
	time.Sleep(time.Second)
	if _, err := admin.Store("globex").SubscriptionInfo(ctx, "work"); err != nil {
		t.Fatalf("another store's subscription after a reply-subject trick: %v", err)
	}

	// Nothing it tried was written: globex holds the admin's two events.
	page, err := admin.Store("globex").Read(ctx, "secrets", client.ReadOptions{})
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("globex after the tenant's attempts: %d events, %v", len(page.Events), err)
	}
	if st, err := admin.Stores().Status(ctx, "acme"); err != nil || st.Status != "running" {
		t.Fatalf("acme after the tenant's attempts: %+v, %v", st, err)
	}
}

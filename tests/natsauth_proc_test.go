package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/nats-io/nats-server/v2/server"
)

// secureSite is a NATS server requiring TLS with client certificates and a
// user and password: "logbook" for Logbook's processes, "app" for clients.
type secureSite struct {
	pki               testPKI
	url               string
	svcPass, appPass  string // the passwords
	svcFile, appFile  string // files holding them
	tlsArgs           []string
	appArgs, noneArgs []string // lbctl flags: the app's identity; TLS only
}

func newSecureSite(t *testing.T) *secureSite {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	s := &secureSite{pki: newTestPKI(t), svcPass: "svc-pw-8d1f", appPass: "app-pw-27c4"}
	s.svcFile, s.appFile = writeSecret(t, "svc.pw", s.svcPass+"\n"), writeSecret(t, "app.pw", s.appPass)
	opts := plainNATSOptions()
	opts.MaxPayload = 8 << 20
	opts.Users = []*server.User{{Username: "logbook", Password: s.svcPass}, {Username: "app", Password: s.appPass}}
	serverTLS(t, opts, s.pki, true)
	_, s.url = startNATSWith(t, opts)
	s.tlsArgs = []string{"-nats-ca", s.pki.CA, "-nats-tls-cert", s.pki.ClientCert, "-nats-tls-key", s.pki.ClientKey}
	s.noneArgs = append([]string{"-server", s.url}, s.tlsArgs...)
	s.appArgs = append([]string{"-nats-user", "app", "-nats-password-file", s.appFile}, s.noneArgs...)
	return s
}

// appConfig is a client's configuration: TLS, and the app user unless anonymous.
func (s *secureSite) appConfig(anonymous bool) natsauth.Config {
	c := natsauth.Config{User: "app", Password: s.appPass, CertFile: s.pki.ClientCert, KeyFile: s.pki.ClientKey, CAFile: s.pki.CA}
	if anonymous {
		c.User, c.Password = "", ""
	}
	return c
}

// checkClients appends and reads through the Go client and lbctl with the
// app's credentials, and checks that both are refused without them.
func (s *secureSite) checkClients(t *testing.T, store string) {
	t.Helper()
	opts, err := s.appConfig(false).Options()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(s.url, client.WithNATSOptions(opts...))
	if err != nil {
		t.Fatalf("client with credentials: %v", err)
	}
	defer c.Close()
	st := c.Store(store)
	if _, err := st.Append(ctxT(t), "order-1", client.NoStream, client.Event{Type: "OrderPlaced", Data: []byte(`{"sku":"abc"}`)}); err != nil {
		t.Fatalf("append: %v", err)
	}
	p, err := st.Read(ctxT(t), "order-1", client.ReadOptions{})
	if err != nil || len(p.Events) != 1 || p.Events[0].Type != "OrderPlaced" {
		t.Fatalf("read: %+v, %v", p, err)
	}
	anon, err := s.appConfig(true).Options()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := client.Connect(s.url, client.WithNATSOptions(anon...)); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("client without credentials: %v, want an authorization violation", err)
	}
	lbctl := buildBinary(t, "github.com/logbookdb/logbook/tools/lbctl")
	out, err := exec.Command(lbctl, append(s.appArgs, "-store", store, "append", "order-1", "OrderPaid", "{}")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revision 1") {
		t.Fatalf("lbctl append: %v\n%s", err, out)
	}
	out, err = exec.Command(lbctl, append(s.appArgs, "-store", store, "read", "order-1")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OrderPlaced") || !strings.Contains(string(out), "OrderPaid") {
		t.Fatalf("lbctl read: %v\n%s", err, out)
	}
	out, err = exec.Command(lbctl, append(s.noneArgs, "-store", store, "read", "order-1")...).CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "authorization violation") {
		t.Fatalf("lbctl without credentials: %v\n%s", err, out)
	}
}

// A storenode and a gateway run against a NATS server requiring TLS with
// client certificates and a user and password, given by flags, variables
// and a password file; clients with credentials are served, clients
// without are refused.
func TestSecureNATSStorenodeAndGateway(t *testing.T) {
	s := newSecureSite(t)
	storenode := buildBinary(t, "github.com/logbookdb/logbook/services/storenode")
	gateway := buildBinary(t, "github.com/logbookdb/logbook/services/gateway")
	runUntilReady(t, storenode, "is ready",
		[]string{"-nats-url", s.url, "-node-id", "1", "-raft-addr", freeAddr(t), "-data", t.TempDir(), "-initial-size", "1",
			"-log-level", "warn", "-nats-ca", s.pki.CA, "-nats-tls-cert", s.pki.ClientCert},
		[]string{"LOGBOOK_NATS_USER=logbook", "LOGBOOK_NATS_PASSWORD=" + s.svcPass, "LOGBOOK_NATS_TLS_KEY=" + s.pki.ClientKey})
	runUntilReady(t, gateway, "Gateway is ready",
		[]string{"-nats-url", s.url, "-nats-user", "logbook", "-nats-password-file", s.svcFile, "-log-level", "warn"},
		[]string{"LOGBOOK_NATS_CA=" + s.pki.CA, "LOGBOOK_NATS_TLS_CERT=" + s.pki.ClientCert, "LOGBOOK_NATS_TLS_KEY=" + s.pki.ClientKey})
	s.checkClients(t, "default")
}

// The all-in-one logbook loads a nats-server configuration requiring TLS
// and users for its embedded server; its own connection presents the
// logbook user; clients are served with credentials, refused without, and
// a plain (non-TLS) connection is refused.
func TestSecureNATSLogbookConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	pki := newTestPKI(t)
	s := &secureSite{pki: pki, svcPass: "svc-pw-5e0a", appPass: "app-pw-91b3"}
	s.appFile = writeSecret(t, "app.pw", s.appPass)
	addr := freeAddr(t)
	conf := writeSecret(t, "nats.conf", fmt.Sprintf(`# no listen: -nats-host and -nats-port apply
max_payload: 8MB
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
}
authorization {
  users: [
    {user: logbook, password: %q}
    {user: app, password: %q}
  ]
}
`, pki.ServerCert, pki.ServerKey, pki.CA, s.svcPass, s.appPass))
	s.url = "tls://" + addr
	s.tlsArgs = []string{"-nats-ca", pki.CA, "-nats-tls-cert", pki.ClientCert, "-nats-tls-key", pki.ClientKey}
	s.noneArgs = append([]string{"-server", s.url}, s.tlsArgs...)
	s.appArgs = append([]string{"-nats-user", "app", "-nats-password-file", s.appFile}, s.noneArgs...)
	// Without an identity the config allows, logbook stops and says why
	// (after the server's 10 s write deadline: see embed's connect); and a
	// config file goes with the embedded server only.
	logbook := logbookBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nats-config", conf}, "an identity it allows"},
		{[]string{"-nats-config", conf, "-nats-url", s.url}, "give one or the other"},
	} {
		host, port, _ := strings.Cut(addr, ":")
		args := append([]string{"-data", t.TempDir(), "-nats-host", host, "-nats-port", port, "-raft-addr", freeAddr(t)}, tc.args...)
		out, err := exec.Command(logbook, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("logbook %v: %v, want an error with %q:\n%s", tc.args, err, tc.want, out)
		}
	}
	// The in-process connection needs no certificate: the identity alone.
	startProc(t, t.TempDir(), addr, freeAddr(t), withArgs("-nats-config", conf),
		withEnv("LOGBOOK_NATS_USER=logbook", "LOGBOOK_NATS_PASSWORD="+s.svcPass))
	s.checkClients(t, "default")
	refusesPlain(t, addr)
}

// refusesPlain checks that the NATS server at addr, which requires TLS,
// answers a client speaking plain NATS by closing the connection, never
// with a PONG.
func refusesPlain(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q, %v: want tls_required", info, err)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false,\"user\":\"app\"}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a plain connection open (read %q)", rest)
	}
	if strings.Contains(string(rest), "PONG") {
		t.Fatalf("the server answered a plain connection: %q", rest)
	}
}

// A TLS-only server refuses a plain connection.
func TestNATSTLSOnlyRefusesPlain(t *testing.T) {
	opts := plainNATSOptions()
	serverTLS(t, opts, newTestPKI(t), false)
	ns, _ := startNATSWith(t, opts)
	refusesPlain(t, ns.Addr().String())
}

// A gateway whose password is wrong keeps retrying, says why in its log
// once, and never prints the password; -h does not show a password given
// in the environment either.
func TestGatewayWrongPasswordIsLoggedWithoutSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	opts := plainNATSOptions()
	opts.Users = []*server.User{{Username: "logbook", Password: "right-pw"}}
	_, url := startNATSWith(t, opts)
	gateway := buildBinary(t, "github.com/logbookdb/logbook/services/gateway")
	const secret = "wrong-pw-3b9e"
	cmd := exec.Command(gateway, "-nats-url", url, "-nats-user", "logbook", "-nats-password-file", writeSecret(t, "pw", secret))
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	poll(t, 20*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(strings.ToLower(stderr.String()), "authorization violation") {
			return fmt.Errorf("no authorization error logged yet:\n%s", stderr.String())
		}
		return nil
	})
	time.Sleep(time.Second) // a few more attempts (every 250 ms)
	log := stderr.String()
	if n := strings.Count(strings.ToLower(log), "authorization violation"); n != 1 {
		t.Errorf("the authorization error is logged %d times, want once:\n%s", n, log)
	}
	if strings.Contains(log, secret) {
		t.Errorf("the log shows the password:\n%s", log)
	}
	help := exec.Command(gateway, "-h")
	help.Env = append(help.Environ(), "LOGBOOK_NATS_PASSWORD="+secret)
	out, _ := help.CombinedOutput()
	if strings.Contains(string(out), secret) || !strings.Contains(string(out), "-nats-password-file") {
		t.Errorf("gateway -h:\n%s", out)
	}
}

// lockedBuffer collects a process's output for a test reading it meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

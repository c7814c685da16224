package tests

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/gateway/gateway"
	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// Helpers used by tests in several files: raw requests and the typed error
// reply, polling, the gateway in front of a test cluster, logbook processes
// run one after another on the same data, and a store's configuration.

// mp encodes v as MessagePack.
func mp(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawRequest sends bytes to a subject the way a non-Go client would.
func rawRequest(t testing.TB, in *instance, subject string, payload []byte) (*nats.Msg, error) {
	t.Helper()
	return in.Client.Conn().Request(subject, payload, 10*time.Second)
}

// errorCase is a raw request that must get the typed error want.
type errorCase struct {
	name    string
	to      string // an operation, completed by checkErrorCases, or a whole subject (with a dot)
	payload []byte
	want    codes.Code
}

// checkErrorCases sends every case, in a subtest of its own, to prefix+to
// (or to, when it is a whole subject), and checks its typed error reply.
func checkErrorCases(t *testing.T, in *instance, prefix string, cases []errorCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			subject := c.to
			if !strings.Contains(subject, ".") {
				subject = prefix + subject
			}
			wantErrorReply(t, in, subject, c.payload, c.want)
		})
	}
}

// wantErrorReply sends payload to subject and checks that the reply is the
// typed error want, in the code header and in the body, with a message.
func wantErrorReply(t *testing.T, in *instance, subject string, payload []byte, want codes.Code) {
	t.Helper()
	msg, err := rawRequest(t, in, subject, payload)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got := msg.Header.Get(wire.HeaderErrorCode); got != strconv.Itoa(int(want)) {
		t.Fatalf("code header %q (%s), want %d %s", got, msg.Header.Get(wire.HeaderError), want, want.Name())
	}
	var body wire.ErrorReply
	if err := wire.Unmarshal(msg.Data, &body); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if body.Code != int(want) || body.Name != want.Name() || body.Message == "" {
		t.Fatalf("error body %+v", body)
	}
}

// poll calls cond every interval until it returns nil; once timeout has
// passed the test fails with cond's last error.
func poll(t testing.TB, timeout, interval time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// eventually retries cond until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	poll(t, timeout, 100*time.Millisecond, cond)
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll(t, 20*time.Second, 10*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("waiting for %s", what)
	})
}

// gatewayFront is a gateway run in the test process in front of a test
// cluster's storenodes, and a client that goes through it.
type gatewayFront struct {
	gw     *gateway.Gateway
	Client *client.Client
}

// startFront starts the gateway on its own NATS connection to url (made with
// opts) and connects the client; they are closed with the test, the client
// first.
func (f *gatewayFront) startFront(t testing.TB, url string, requestTimeout time.Duration, opts ...nats.Option) {
	t.Helper()
	gwConn, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gwConn.Close)
	if f.gw, err = gateway.Start(gateway.Config{NATS: gwConn, Logger: testLogger(), RequestTimeout: requestTimeout}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.gw.Stop() })
	if f.Client, err = client.Connect(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Client.Close)
}

// procSite is where a test runs logbook processes (see startProc) one after
// another: one data directory and fixed NATS and Raft addresses, so that a
// restarted process finds its data and its clients find it.
type procSite struct {
	t                   *testing.T
	dir, natsAddr, raft string
}

// newProcSite skips the test in -short mode (it builds and runs the real
// command) and picks the directory and the addresses.
func newProcSite(t *testing.T) *procSite {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	return &procSite{t: t, dir: t.TempDir(), natsAddr: freeAddr(t), raft: freeAddr(t)}
}

// start starts a logbook process on the site and waits until it is ready.
func (s *procSite) start(opts ...procOption) *proc {
	s.t.Helper()
	return startProc(s.t, s.dir, s.natsAddr, s.raft, opts...)
}

// connect connects a client to the site's process; it is closed with the test.
func (s *procSite) connect(opts ...client.Option) *client.Client {
	s.t.Helper()
	return connectProc(s.t, s.natsAddr, opts...)
}

// connectProc connects a client to a logbook process; it is closed with the test.
func connectProc(t *testing.T, natsAddr string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.Connect("nats://"+natsAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// wantConfig asks for a store's configuration and checks that its settings
// are the defaults as changed by adjust, and that they come from origin.
func wantConfig(t *testing.T, st *client.Stores, id, origin string, adjust func(*client.StoreConfig)) *client.StoreConfig {
	t.Helper()
	cfg, err := st.Config(ctxT(t), id)
	if err != nil {
		t.Fatalf("config of %s: %v", id, err)
	}
	want := defaultConfig(id)
	if adjust != nil {
		adjust(&want)
	}
	if !sameSettings(*cfg, want) || cfg.Origin != origin {
		t.Fatalf("%s config %+v, want %+v from %s", id, cfg, want, origin)
	}
	return cfg
}

// startPiped starts cmd, its stderr on the test's unless set, and returns
// its stdout.
func startPiped(t *testing.T, cmd *exec.Cmd) io.Reader {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdout
}

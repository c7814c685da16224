package tests

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// dragonboat and pebble keep a few process-wide goroutines.
		goleak.IgnoreTopFunction("github.com/lni/goutils/syncutil.(*Stopper).runWorker.func1"),
		goleak.IgnoreTopFunction("github.com/cockroachdb/pebble.(*tableCacheShard).releaseLoop"),
		goleak.IgnoreAnyFunction("github.com/lni/dragonboat/v4/internal/vfs.init"),
	)
}

// instance is a Logbook started for a test, on real disk and a real NATS server.
type instance struct {
	t       testing.TB
	dir     string
	raft    string
	lb      *embed.Logbook
	Client  *client.Client
	Store   *client.Store
	natsURL string

	configure []func(*embed.Config)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func testLogger() *slog.Logger {
	if os.Getenv("LOGBOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startLogbook starts a Logbook in a fresh temporary directory; configure
// may adjust its configuration.
func startLogbook(t testing.TB, configure ...func(*embed.Config)) *instance {
	t.Helper()
	in := &instance{t: t, dir: t.TempDir(), raft: freeAddr(t), configure: configure}
	in.start()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) start() {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	port := -1
	if in.natsURL != "" { // restart on the same port so old clients reconnect
		u, _ := url2port(in.natsURL)
		port = u
	}
	cfg := embed.Config{DataDir: in.dir, NATSPort: port, RaftAddress: in.raft, Logger: testLogger()}
	for _, f := range in.configure {
		f(&cfg)
	}
	lb, err := embed.Start(ctx, cfg)
	if err != nil {
		in.t.Fatalf("start logbook: %v", err)
	}
	in.lb = lb
	in.natsURL = lb.ClientURL()
	c, err := client.Connect(in.natsURL, client.WithNATSOptions(nats.MaxReconnects(-1)))
	if err != nil {
		in.t.Fatalf("connect: %v", err)
	}
	in.Client = c
	in.Store = c.Store(embed.DefaultStoreID)
}

func (in *instance) stop() {
	if in.Client != nil {
		in.Client.Close()
		in.Client = nil
	}
	if in.lb != nil {
		in.lb.Close()
		in.lb = nil
	}
}

// restart stops the whole process-equivalent and starts it on the same data.
func (in *instance) restart() {
	in.t.Helper()
	in.stop()
	in.start()
}

func url2port(u string) (int, error) {
	_, p, err := net.SplitHostPort(u[len("nats://"):])
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// TestDeploy runs the container deployment of deploy/: it builds the images
// (deploy/build-images.sh), writes the secrets (deploy/gen-secrets.sh) into
// a temporary directory, starts deploy/compose.yaml (NATS with TLS and
// users, 3 storenodes with Raft over mutual TLS, 2 gateways) under a project
// of its own with NATS on a free loopback port, checks that NATS refuses
// plaintext and unauthenticated connections and that the example tenant
// reaches its store and not another, writes and reads through it as the
// admin user, stops the storenode leading the default store
// with `docker stop`, keeps writing and reading, checks that the cluster view
// reports the node down, starts it again and sees it back, and removes every
// container, network and volume it created, on failure too.
//
// It is skipped only when `docker info` fails. LOGBOOK_DEPLOY_SKIP_BUILD=1
// reuses images already built (e.g. by `go tool task images`);
// LOGBOOK_IMAGE_TAG picks their tag (default dev).
func TestDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds container images and starts containers")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker is not usable here (`docker info`: %v: %s): skipping the container deployment test",
			err, lastLine(out))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, root: root,
		project: fmt.Sprintf("lbdeploytest%d", os.Getpid()), port: freePort(t), secrets: filepath.Join(t.TempDir(), "secrets")}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_, err = d.run(sctx, "bash", "deploy/gen-secrets.sh", "-out", d.secrets)
	scancel()
	if err != nil {
		t.Fatalf("write the secrets: %v", err)
	}

	// 1. Images: a cold Go build cache makes this the long part.
	if os.Getenv("LOGBOOK_DEPLOY_SKIP_BUILD") == "" {
		start := time.Now()
		bctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		_, err := d.run(bctx, "bash", "deploy/build-images.sh")
		cancel()
		if err != nil {
			t.Fatalf("build images: %v", err)
		}
		t.Logf("images built in %s", time.Since(start).Round(time.Second))
	}

	// From here on, the whole deployment test is bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	t.Cleanup(d.down) // registered before up: a half-started project is removed too
	if _, err := d.compose(ctx, "up", "-d"); err != nil {
		t.Fatalf("compose up: %v", err)
	}

	// 2. Connect as the admin user, over TLS, and wait until the default
	// store serves.
	url := fmt.Sprintf("tls://127.0.0.1:%d", d.port)
	adminOpts := d.natsOptions("admin", "")
	var c *client.Client
	for c == nil {
		c, err = client.Connect(url, client.WithNATSOptions(adminOpts...))
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("NATS at %s never accepted a connection: %v", url, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	defer c.Close()
	store := c.Store("default")
	stream := "deploy-" + d.project
	var written []string
	appendOne := func(expect client.ExpectedRevision) {
		t.Helper()
		data := fmt.Sprintf(`{"n":%d}`, len(written))
		actx, acancel := context.WithTimeout(ctx, 45*time.Second)
		defer acancel()
		res, err := store.Append(actx, stream, expect,
			client.Event{Type: "Written", Data: []byte(data), DataContentType: "application/json"})
		if err != nil {
			t.Fatalf("append %d: %v", len(written), err)
		}
		if res.FirstRevision != uint64(len(written)) {
			t.Fatalf("append %d landed at revision %d", len(written), res.FirstRevision)
		}
		written = append(written, data)
	}
	// The first append waits for the cluster to form: the client retries
	// unavailable and no-responder errors until its deadline; loop on top of
	// that in case NATS or the gateways come up late.
	// One event id for every attempt: an attempt that timed out but was
	// written makes the next one answer with the original result.
	first := client.Event{ID: uuid.NewString(), Type: "Written", Data: []byte(`{"n":0}`), DataContentType: "application/json"}
	for {
		actx, acancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := store.Append(actx, stream, client.NoStream, first)
		acancel()
		if err == nil {
			written = append(written, `{"n":0}`)
			break
		}
		if ctx.Err() != nil {
			d.dumpLogs()
			t.Fatalf("the deployment never served an append: %v", err)
		}
		t.Logf("waiting for the cluster: %v", err)
		time.Sleep(time.Second)
	}
	t.Logf("serving %s after %s", url, time.Since(start).Round(100*time.Millisecond))
	d.checkSecurity(ctx, c, url)
	for len(written) < 20 {
		appendOne(client.Exact(uint64(len(written) - 1)))
	}
	d.checkRead(ctx, store, stream, written)

	// 3. The cluster view: three storenodes up, the default store on all three.
	view := d.waitView(ctx, c, "3 nodes up", func(v *client.ClusterView) bool {
		return len(v.Nodes) == 3 && countHealth(v, wire.NodeUp) == 3 && storeLeader(v, "default") != 0
	})
	victim := storeLeader(view, "default")
	if r := storeReplicas(view, "default"); len(r) != 3 {
		t.Fatalf("default store replicas %v, want 3", r)
	}

	// 4. Stop the storenode leading the default store, the hardest one to lose.
	service := fmt.Sprintf("storenode-%d", victim)
	id, err := d.compose(ctx, "ps", "-q", service)
	if err != nil || strings.TrimSpace(id) == "" {
		t.Fatalf("container of %s: %q, %v", service, id, err)
	}
	if _, err := d.run(ctx, "docker", "stop", "-t", "10", strings.TrimSpace(id)); err != nil {
		t.Fatalf("docker stop %s: %v", service, err)
	}
	t.Logf("stopped %s (leader of the default store) after %s", service, time.Since(start).Round(100*time.Millisecond))

	// 5. Writes and reads go on through the two others (the client retries
	// while a new leader is elected; the event ids keep the retries from
	// writing twice, which the exact expected revisions would reveal).
	for len(written) < 40 {
		appendOne(client.Exact(uint64(len(written) - 1)))
	}
	d.checkRead(ctx, store, stream, written)

	// 6. The view reports the stopped node down and a new leader.
	view = d.waitView(ctx, c, service+" down", func(v *client.ClusterView) bool {
		for _, n := range v.Nodes {
			if (n.ID == victim) != (n.Health == wire.NodeDown) {
				return false
			}
		}
		l := storeLeader(v, "default")
		return len(v.Nodes) == 3 && l != 0 && l != victim
	})
	t.Logf("after stopping node %d: default store led by %d, answered by %d",
		victim, storeLeader(view, "default"), view.AnsweredBy)

	// 7. Started again, it rejoins as itself from its volume.
	if _, err := d.run(ctx, "docker", "start", strings.TrimSpace(id)); err != nil {
		t.Fatalf("docker start %s: %v", service, err)
	}
	d.waitView(ctx, c, service+" back", func(v *client.ClusterView) bool {
		for _, s := range v.Stores {
			if s.Store == "default" && s.ReplicasUp == 3 {
				return len(v.Nodes) == 3 && countHealth(v, wire.NodeUp) == 3
			}
		}
		return false
	})
	appendOne(client.Exact(uint64(len(written) - 1)))
	d.checkRead(ctx, store, stream, written)
	d.checkViolations(ctx)
	t.Logf("%s rejoined; done in %s", service, time.Since(start).Round(100*time.Millisecond))
}

// deployment is one compose project of the test.
type deployment struct {
	t       *testing.T
	root    string
	project string
	port    int
	secrets string // written by deploy/gen-secrets.sh
}

// run runs a command in the repository root with the project's environment
// and returns its output (stdout and stderr) and an error naming both.
func (d *deployment) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = d.root
	cmd.Env = append(os.Environ(),
		"COMPOSE_PROJECT_NAME="+d.project,
		fmt.Sprintf("LOGBOOK_NATS_PORT=%d", d.port),
		"LOGBOOK_SECRETS="+d.secrets)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func (d *deployment) compose(ctx context.Context, args ...string) (string, error) {
	return d.run(ctx, "bash", append([]string{"deploy/compose.sh"}, args...)...)
}

// down removes the project's containers, network and volumes.
func (d *deployment) down() {
	if d.t.Failed() {
		d.dumpLogs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := d.compose(ctx, "down", "-v", "--remove-orphans", "-t", "10"); err != nil {
		d.t.Errorf("compose down: %v", err)
	}
}

func (d *deployment) dumpLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := d.compose(ctx, "logs", "--no-color", "--tail", "40")
	d.t.Logf("compose logs (last lines of each container):\n%s", out)
}

// checkRead reads the whole stream and compares it with what was written.
func (d *deployment) checkRead(ctx context.Context, store *client.Store, stream string, written []string) {
	d.t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	page, err := store.Read(rctx, stream, client.ReadOptions{})
	if err != nil {
		d.t.Fatalf("read %s: %v", stream, err)
	}
	if len(page.Events) != len(written) {
		d.t.Fatalf("read %d events, wrote %d", len(page.Events), len(written))
	}
	for i, e := range page.Events {
		if e.Revision != uint64(i) || string(e.Data) != written[i] {
			d.t.Fatalf("event %d: revision %d data %s, want revision %d data %s", i, e.Revision, e.Data, i, written[i])
		}
	}
}

// waitView polls the cluster view until ok accepts it.
func (d *deployment) waitView(ctx context.Context, c *client.Client, what string, ok func(*client.ClusterView) bool) *client.ClusterView {
	d.t.Helper()
	var last *client.ClusterView
	var lastErr error
	for {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := c.View(vctx)
		cancel()
		if err == nil && ok(v) {
			return v
		}
		if err == nil {
			last = v
		}
		lastErr = err
		select {
		case <-ctx.Done():
			d.t.Fatalf("cluster view never showed %s; last view %s, last error %v", what, describeView(last), lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func describeView(v *client.ClusterView) string {
	if v == nil {
		return "none"
	}
	var b strings.Builder
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "node %d %s; ", n.ID, n.Health)
	}
	for _, s := range v.Stores {
		fmt.Fprintf(&b, "store %s leader %d replicas %v; ", s.Store, s.Leader, s.Replicas)
	}
	return b.String()
}

func countHealth(v *client.ClusterView, health string) int {
	n := 0
	for _, node := range v.Nodes {
		if node.Health == health {
			n++
		}
	}
	return n
}

func storeLeader(v *client.ClusterView, store string) uint64 {
	for _, s := range v.Stores {
		if s.Store == store {
			return s.Leader
		}
	}
	return 0
}

func storeReplicas(v *client.ClusterView, store string) []uint64 {
	for _, s := range v.Stores {
		if s.Store == store {
			return s.Replicas
		}
	}
	return nil
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

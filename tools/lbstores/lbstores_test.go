package main

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	if s.Count != 100 || s.P50ms != 50 || s.P99ms != 99 || s.MaxMs != 100 {
		t.Fatalf("summarize = %+v", s)
	}
	if summarize(nil).Count != 0 {
		t.Fatal("empty summary")
	}
}

func TestSampleProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	s, err := sampleProc(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.Threads <= 0 || s.FDs <= 0 || s.fdDetail == nil {
		t.Fatalf("sample = %+v", s)
	}
	if openFilesLimit(os.Getpid()) == "?" {
		t.Fatal("no open files limit")
	}
}

func TestSummarizeLog(t *testing.T) {
	path := t.TempDir() + "/server.log"
	log := `time=x level=WARN msg="a thing" component=storenode
time=x level=WARN msg="a thing" component=storenode
time=x level=ERROR msg=broken err=x
time=x level=INFO msg=fine
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	ls := summarizeLog(path)
	if ls.Warnings != 2 || ls.Errors != 1 || len(ls.Samples) != 2 {
		t.Fatalf("summary = %+v", ls)
	}
}

// TestMain lets the test binary double as a NATS server child (natschild):
// cluster mode runs its NATS servers by re-executing this binary.
func TestMain(m *testing.M) {
	maybeRunNATSChild()
	os.Exit(m.Run())
}

// TestClusterMode runs cluster mode briefly for real: a NATS server, 3
// storenodes and a gateway, 5 stores with replication factor 3, a restart
// of every storenode; then a 3-server JetStream cluster with 5 R3 streams.
// Every store must be created, read back before and after the restart, and
// every figure the report compares must have been measured.
func TestClusterMode(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if testing.Short() {
		t.Skip("builds and starts storenode, gateway and NATS processes")
	}
	o := &options{
		stores: 5, concurrency: 4, nodes: 3, idle: time.Second, settle: 0,
		dir: t.TempDir(), opTimeout: 20 * time.Second, readyTimeout: 40 * time.Second,
		stopTimeout: 15 * time.Second, timeout: 2 * time.Minute, maxRSS: 2048, maxFailures: 1,
		probe: true, serveTimeout: 20 * time.Second, logLevel: "warn",
	}
	rep, err := runCluster(o)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Cluster
	if rep.Create.Created != 5 || rep.Create.Failed != 0 || rep.Create.Latency.P50ms <= 0 {
		t.Fatalf("creates: %+v", rep.Create)
	}
	for name, ops := range map[string]*opsResult{"append": rep.Append, "read": rep.Read, "read after restart": rep.ReadAfterRestart} {
		if ops.OK != 5 || ops.Failed != 0 {
			t.Fatalf("%s: %+v", name, ops)
		}
	}
	if rep.List.Missing != 0 || rep.List.running() != 6 {
		t.Fatalf("list after restart: %+v", rep.List)
	}
	if len(c.Members) != 5 || len(c.Restarts) != 3 || len(c.Stops) != 3 || c.RestartRead < c.RestartReady || c.RestartReady <= 0 {
		t.Fatalf("cluster result: %+v", c)
	}
	for _, phase := range [][]*idleResult{c.Empty, c.AfterCreate, c.AfterRestart} {
		checkIdle(t, phase, len(c.Members))
	}
	if sum(c.CreateCPU[:3]) <= 0 || c.Disk.Bytes <= 0 {
		t.Fatalf("storenode CPU during creates %v, disk %+v", c.CreateCPU, c.Disk)
	}

	j, err := runJetStreamCluster(t.Context(), o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if j.Create.Count != 5 || j.Create.P50ms <= 0 || j.ReadBack.OK != 5 || j.RestartLead < j.RestartReady || j.RestartReady <= 0 {
		t.Fatalf("jetstream: %+v", j)
	}
	for _, phase := range [][]*idleResult{j.Empty, j.AfterCreate, j.AfterRestart} {
		checkIdle(t, phase, 3)
	}
	rep.JetStreamCluster = j
	var out strings.Builder
	rep.print(&out)
	for _, want := range []string{"storenode3", "js3", "create p50", "restart to every store read back", j.Version} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}

// checkIdle checks that n processes were measured with memory and fds.
func checkIdle(t *testing.T, phase []*idleResult, n int) {
	t.Helper()
	if len(phase) != n {
		t.Fatalf("%d processes measured, want %d", len(phase), n)
	}
	for _, r := range phase {
		if r.RSSMiB <= 0 || r.FDs <= 0 || r.Threads <= 0 || r.IdleS <= 0 {
			t.Fatalf("%s: %+v", r.Label, r)
		}
	}
}

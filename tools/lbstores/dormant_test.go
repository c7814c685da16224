package main

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseDormancy(t *testing.T) {
	text := `# HELP logbook_storenode_stores Store replicas running on this node.
# TYPE logbook_storenode_stores gauge
logbook_storenode_stores 2
logbook_storenode_stores_dormant 998
logbook_storenode_store_wakes_total 1e+03
logbook_store_applied_index{store="default"} 7
logbook_store_applied_index{store="s00017"} 3
logbook_store_raft_leader{store="default"} 1
go_memstats_heap_inuse_bytes 2.097152e+06
go_memstats_last_gc_time_seconds 1.7645e+09
`
	d, err := parseDormancy(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if d.Running != 2 || d.Dormant != 998 || d.Wakes != 1000 || d.OthersRunning != 1 || d.oursRunning() != 1 || d.HeapInuse != 2<<20 || d.LastGC.Unix() != 1764500000 {
		t.Fatalf("parsed %+v", d)
	}
	if _, err := parseDormancy(strings.NewReader("go_goroutines 12\n")); err == nil {
		t.Fatal("metrics without the storenode's gauges parsed")
	}
}

// TestDormantStores runs one node briefly for real with -hibernate-after
// 1s: every store must go dormant after the reads, stay dormant across the
// restart (the idle measurement before any read sees them so), and wake
// for the reads that follow, each counted by the node.
func TestDormantStores(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if testing.Short() {
		t.Skip("builds and starts the logbook binary")
	}
	hib := time.Second
	const stores = 3
	o := &options{
		stores: stores, concurrency: 3, nodes: 1, idle: time.Second, settle: 0,
		dir: t.TempDir(), opTimeout: 20 * time.Second, readyTimeout: 40 * time.Second,
		stopTimeout: 15 * time.Second, timeout: 100 * time.Second, maxRSS: 2048, maxFailures: 1,
		probe: true, serveTimeout: 20 * time.Second, logLevel: "warn", hibernate: &hib,
	}
	rep, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.DormantWait; !d.reached() || d.Dormant < stores || d.OursRunning != 0 || d.AfterS <= 0 {
		t.Fatalf("dormant wait: %+v", d)
	}
	for name, i := range map[string]*idleResult{"dormant": rep.Dormant, "after restart, dormant": rep.RestartDormant} {
		if i == nil || i.Dormant == nil || *i.Dormant < stores || i.HeapInuseMiB == nil || *i.HeapInuseMiB <= 0 || i.RSSMiB <= 0 || i.FDs <= 0 {
			t.Fatalf("%s: %+v", name, i)
		}
	}
	k := rep.Wake
	if k == nil || len(k.Stores) != stores || k.Failed != 0 || k.Latency.P50ms <= 0 || k.DormantBefore < stores || k.Wakes < stores {
		t.Fatalf("wake: %+v", k)
	}
	if rep.RandomRead.Store != k.Stores[0] || rep.RandomRead.Error != "" {
		t.Fatalf("random read %+v, wake %+v", rep.RandomRead, k)
	}
	if r := rep.ReadAfterRestart; r.OK != stores || r.Failed != 0 {
		t.Fatalf("read after restart: %+v", r)
	}
	var out strings.Builder
	rep.print(&out)
	for _, want := range []string{"dormant: 3 stores", "after restart, dormant: 3 stores", "dormant replicas (/metrics)", "wake: 3 random dormant stores"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}

package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
)

// A store whose Raft group went quiet (quiesced: no heartbeats, no
// election countdown) still fails over when its leader dies: the other
// nodes see the leader's heartbeats stop and wake their replicas, which
// elect a new leader (replica/DESIGN.md, "Idle stores"). The store is left
// idle until every replica logs that it entered quiesce, its leader is
// killed with SIGKILL, and an append must then succeed (not timed: the
// bound is only how long the test waits).
func TestQuiescedStoreFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("process-cluster test skipped in -short mode")
	}
	debug := func(p *procNode) { p.args = append(p.args, "-log-level", "debug") }
	c := startProcCluster(t, 3, debug)
	ctx := ctxT(t)
	if _, err := c.Client.Stores().Create(ctx, "quiet", &client.StoreSettings{ReplicationFactor: i64(3)}); err != nil {
		t.Fatal(err)
	}
	q := c.Client.Store("quiet")
	if _, err := q.Append(ctx, "s", client.Any, ev("E", "before")); err != nil {
		t.Fatal(err)
	}
	// Idle until every replica is quiesced (ten election timeouts, 5 s,
	// after the last activity; the leader balancer may move the leadership
	// first, which starts the count again).
	var leader, shard uint64
	eventually(t, 90*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		s, err := storeOf(v, "quiet")
		if err != nil {
			return err
		}
		if s.Leader == 0 || s.ReplicasUp != 3 {
			return fmt.Errorf("store quiet: %+v", s)
		}
		for id := uint64(1); id <= 3; id++ {
			if !quiesced(c.node(id).stderr.String(), s.Shard, id) {
				return fmt.Errorf("node %d: the replica of shard %d is not quiesced", id, s.Shard)
			}
		}
		leader, shard = s.Leader, s.Shard
		return nil
	})
	t.Logf("shard %d quiesced on every node; killing its leader, node %d", shard, leader)
	c.kill9(leader)
	start := time.Now()
	var err error
	for time.Since(start) < 60*time.Second {
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = q.Append(actx, "s", client.Any, ev("E", "after"))
		cancel()
		if err == nil {
			break
		}
		t.Logf("append %s after the kill: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if err != nil {
		t.Fatalf("the quiesced store took no append within 60 s of its leader's death: %v", err)
	}
	t.Logf("append acknowledged %s after the leader was killed", time.Since(start).Round(time.Millisecond))
	page, err := q.Read(ctx, "s", client.ReadOptions{})
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("read after the failover: %+v %v", page, err)
	}
}

// quiesced reports whether a node's log says its replica of shard entered
// quiesce and has not left it since.
func quiesced(log string, shard, node uint64) bool {
	id := fmt.Sprintf("[%05d:%05d]", shard, node)
	entered := strings.LastIndex(log, id+" entered quiesce")
	return entered >= 0 && !strings.Contains(log[entered:], id+" exited from quiesce")
}

package raft

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	pb "github.com/lni/dragonboat/v4/raftpb"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// receiver is a transport listening on addr whose batches go to a channel.
func receiver(t *testing.T, addr string) (*tcpTransport, chan pb.MessageBatch) {
	t.Helper()
	got := make(chan pb.MessageBatch, 16)
	tr := tcpFactory{}.Create(config.NodeHostConfig{RaftAddress: addr},
		func(b pb.MessageBatch) { got <- b }, func(pb.Chunk) bool { return true }).(*tcpTransport)
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	return tr, got
}

func batch(term uint64) pb.MessageBatch {
	return pb.MessageBatch{DeploymentId: 1, SourceAddress: "here", Requests: []pb.Message{
		{Type: pb.Heartbeat, To: 2, From: 1, ShardID: 9, Term: term},
	}}
}

func wantBatch(t *testing.T, got chan pb.MessageBatch, term uint64) {
	t.Helper()
	select {
	case b := <-got:
		if len(b.Requests) != 1 || b.Requests[0].Term != term || b.SourceAddress != "here" {
			t.Fatalf("received %+v, want the batch of term %d", b, term)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the batch of term %d never arrived", term)
	}
}

// A connection made to a peer's previous process, idle since it died,
// carries the next batch to the restarted peer without an error: an error
// would make dragonboat cut this node off from that live peer for a while.
// Once the peer is down for good, sending fails, as dragonboat needs to
// mark it unreachable.
func TestTransportOutlivesAPeerRestart(t *testing.T) {
	addr := freeAddr(t)
	peer, got := receiver(t, addr)
	sender := tcpFactory{}.Create(config.NodeHostConfig{RaftAddress: freeAddr(t)}, nil, nil)
	conn, err := sender.GetConnection(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SendMessageBatch(batch(1)); err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, 1)

	peer.Close() // the peer's process dies (its connections are reset) …
	peer, got = receiver(t, addr)
	defer peer.Close() // … and a new one listens on its address
	time.Sleep(50 * time.Millisecond)
	for term := uint64(2); term <= 3; term++ {
		if err := conn.SendMessageBatch(batch(term)); err != nil {
			t.Fatalf("send to the restarted peer: %v", err)
		}
		wantBatch(t, got, term)
	}

	peer.Close()
	time.Sleep(50 * time.Millisecond)
	if err := conn.SendMessageBatch(batch(4)); err == nil {
		t.Fatal("a send to a peer that is down succeeded")
	}
}

// A write the peer's kernel refuses before the watcher has noticed is made
// again on a fresh connection.
func TestTransportResendsARefusedWrite(t *testing.T) {
	addr := freeAddr(t)
	peer, got := receiver(t, addr)
	sender := tcpFactory{}.Create(config.NodeHostConfig{RaftAddress: freeAddr(t)}, nil, nil)
	rc, err := sender.GetConnection(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.SendMessageBatch(batch(1)); err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, 1)
	peer.Close()
	peer, got = receiver(t, addr)
	defer peer.Close()
	time.Sleep(50 * time.Millisecond)
	c := rc.(*msgConn)
	c.gone = make(chan struct{}) // as if the watcher had not seen the reset yet
	if err := c.SendMessageBatch(batch(2)); err != nil {
		t.Fatalf("send on a reset connection: %v", err)
	}
	wantBatch(t, got, 2)
}

// Our transport and dragonboat's own speak the same protocol, both ways,
// snapshots included: a rolling upgrade mixes them. Host 1 runs
// dragonboat's transport and leads; host 2 runs ours and joins after the
// log was compacted, so it catches up from a streamed snapshot. Then host 2
// leads and host 3, on dragonboat's transport, joins the same way.
func TestTransportSpeaksDragonboatsProtocol(t *testing.T) {
	rc := ReplicaConfig{ShardID: 5, ElectionTicks: 10, SnapshotEntries: 5, CompactionOverhead: 1}
	sm := func() dbsm.IStateMachine { return &counter{} }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	h1 := dragonboatHost(t, 1)
	if err := h1.StartInMemory(rc, map[uint64]string{1: h1.nh.RaftAddress()}, false, sm); err != nil {
		t.Fatal(err)
	}
	waitLeads(t, ctx, h1, rc.ShardID)
	proposeN(t, ctx, h1, rc.ShardID, 20)

	h2 := openHostID(t, 2)
	join(t, ctx, h1, h2, rc, sm)
	waitSum(t, ctx, h2, rc.ShardID, 20)
	fromSnapshot(t, h2, rc.ShardID)

	transferTo(t, ctx, h1, h2, rc.ShardID)
	proposeN(t, ctx, h2, rc.ShardID, 20)
	h3 := dragonboatHost(t, 3)
	join(t, ctx, h2, h3, rc, sm)
	waitSum(t, ctx, h3, rc.ShardID, 40)
	fromSnapshot(t, h3, rc.ShardID)
	waitSum(t, ctx, h1, rc.ShardID, 40)
}

// dragonboatHost opens a Host on dragonboat's own transport.
func dragonboatHost(t *testing.T, id uint64) *Host {
	t.Helper()
	dir := t.TempDir()
	nh, err := dragonboat.NewNodeHost(config.NodeHostConfig{
		DeploymentID: 1, WALDir: dir, NodeHostDir: dir, RTTMillisecond: 10, RaftAddress: freeAddr(t),
		Expert: config.ExpertConfig{LogDB: config.GetSmallMemLogDBConfig()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	return &Host{nh: nh, id: id, events: &systemEvents{}}
}

func openHostID(t *testing.T, id uint64) *Host {
	t.Helper()
	h, err := Open(Config{NodeID: id, Dir: t.TempDir(), RaftAddress: freeAddr(t), RTT: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// transferTo hands the shard's leadership from one host to another, asking
// again when dragonboat abandons a transfer (the target did not catch up
// within an election timeout: a loaded machine).
func transferTo(t *testing.T, ctx context.Context, from, to *Host, shard uint64) {
	t.Helper()
	for !to.Leads(shard) {
		if ctx.Err() != nil {
			t.Fatalf("host %d does not lead", to.id)
		}
		if from.Leads(shard) {
			from.TransferLeader(shard, to.id) // refused while one is under way: asked again below
		}
		deadline := time.Now().Add(time.Second)
		for !to.Leads(shard) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func waitLeads(t *testing.T, ctx context.Context, h *Host, shard uint64) {
	t.Helper()
	for !h.Leads(shard) {
		if ctx.Err() != nil {
			t.Fatalf("host %d does not lead", h.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func proposeN(t *testing.T, ctx context.Context, h *Host, shard uint64, n int) {
	t.Helper()
	for range n {
		if _, err := h.Propose(ctx, shard, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
}

// join adds h as a voter through the leader and starts its replica.
func join(t *testing.T, ctx context.Context, leader, h *Host, rc ReplicaConfig, sm func() dbsm.IStateMachine) {
	t.Helper()
	for {
		err := leader.nh.SyncRequestAddReplica(ctx, rc.ShardID, h.id, h.nh.RaftAddress(), 0)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("add replica %d: %v", h.id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.StartInMemory(rc, nil, true, sm); err != nil {
		t.Fatal(err)
	}
}

// fromSnapshot checks that h's replica caught up from a snapshot: its log
// starts after the entries that the snapshot holds.
func fromSnapshot(t *testing.T, h *Host, shard uint64) {
	t.Helper()
	r, err := h.nh.GetLogReader(shard)
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := r.GetRange(); first <= 1 {
		t.Fatalf("host %d's log starts at %d: it was replicated entry by entry, not from a snapshot", h.id, first)
	}
}

func waitSum(t *testing.T, ctx context.Context, h *Host, shard, want uint64) {
	t.Helper()
	for {
		sum, err := As[uint64](h.StaleRead(shard, "sum"))
		if err == nil && sum == want {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("host %d: sum %d (%v), want %d", h.id, sum, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A batch larger than a read chunk (2 MiB) arrives whole.
func TestTransportCarriesLargeBatches(t *testing.T) {
	addr := freeAddr(t)
	peer, got := receiver(t, addr)
	defer peer.Close()
	sender := tcpFactory{}.Create(config.NodeHostConfig{RaftAddress: freeAddr(t)}, nil, nil)
	conn, err := sender.GetConnection(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := make([]byte, 5<<20+3)
	for i := range cmd {
		cmd[i] = byte(i * 7)
	}
	b := pb.MessageBatch{DeploymentId: 1, Requests: []pb.Message{
		{Type: pb.Replicate, To: 2, From: 1, ShardID: 9, Term: 1, Entries: []pb.Entry{{Index: 1, Term: 1, Cmd: cmd}}},
	}}
	for range 2 {
		if err := conn.SendMessageBatch(b); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if len(r.Requests) != 1 || len(r.Requests[0].Entries) != 1 || !bytes.Equal(r.Requests[0].Entries[0].Cmd, cmd) {
				t.Fatal("the large batch arrived altered")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the large batch never arrived")
		}
	}
}

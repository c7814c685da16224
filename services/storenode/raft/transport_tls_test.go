package raft

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/config"
	pb "github.com/lni/dragonboat/v4/raftpb"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// tlsTransport makes a transport on addr with files (none: plaintext)
// whose batches go to a channel; it is started when listen is set.
func tlsTransport(t *testing.T, addr string, files TLSFiles, listen bool) (*tcpTransport, chan pb.MessageBatch) {
	t.Helper()
	c, err := loadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan pb.MessageBatch, 16)
	tr := tcpFactory{tls: c}.Create(config.NodeHostConfig{RaftAddress: addr},
		func(b pb.MessageBatch) { got <- b }, func(pb.Chunk) bool { return true }).(*tcpTransport)
	if listen {
		if err := tr.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
	}
	return tr, got
}

// noBatch fails if a batch arrives within a while.
func noBatch(t *testing.T, got chan pb.MessageBatch, who string) {
	t.Helper()
	select {
	case b := <-got:
		t.Fatalf("a batch from %s was delivered: %+v", who, b)
	case <-time.After(500 * time.Millisecond):
	}
}

// waitRefused waits until the transport has refused n connections.
func waitRefused(t *testing.T, tr *tcpTransport, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tr.refused.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the transport refused %d connections, want %d", tr.refused.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With mutual TLS, a peer holding a certificate from the cluster's CA
// delivers batches; one with a certificate from another CA, or speaking
// plaintext, has its connection refused during the handshake, before
// anything it sends is read as a Raft message, and its connection ends.
func TestTransportRefusesPeersWithoutTheClustersCertificate(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	addr := freeAddr(t)
	node, got := tlsTransport(t, addr, ca.node("node1"), true)

	member, _ := tlsTransport(t, freeAddr(t), ca.node("node2"), false)
	conn, err := member.GetConnection(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SendMessageBatch(batch(1)); err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, 1)
	if n := node.refused.Load(); n != 0 {
		t.Fatalf("a member's connection was refused (%d refusals)", n)
	}

	// An intruder whose certificate another CA signed, trusting ours (so
	// that its side of the handshake goes through and it sends).
	other := newTestCA(t, "another CA")
	intruder, _ := tlsTransport(t, freeAddr(t), other.node("intruder"), false)
	intruder.tls.client.RootCAs = x509.NewCertPool()
	pem, err := os.ReadFile(ca.caFile)
	if err != nil {
		t.Fatal(err)
	}
	intruder.tls.client.RootCAs.AppendCertsFromPEM(pem)
	// A plaintext one.
	plain, _ := tlsTransport(t, freeAddr(t), TLSFiles{}, false)

	for i, tr := range []*tcpTransport{intruder, plain} {
		conn, err := tr.GetConnection(context.Background(), addr)
		if err != nil {
			continue // refused already: as good
		}
		c := conn.(*msgConn)
		c.SendMessageBatch(batch(99)) // may go into the socket before the refusal
		select {
		case <-c.gone: // the node closed it
		case <-time.After(5 * time.Second):
			t.Fatalf("intruder %d: its connection is still open", i)
		}
		conn.Close()
		waitRefused(t, node, uint64(i+1))
	}
	noBatch(t, got, "an intruder")

	// And the member still gets through.
	if err := conn.SendMessageBatch(batch(2)); err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, 2)
}

// A storenode does not talk to a listener whose certificate another CA
// signed, nor to a plaintext one: it cannot be made to send Raft messages
// (entries, votes) to an impostor at a member's address.
func TestTransportRefusesImpostorListeners(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	member, _ := tlsTransport(t, freeAddr(t), ca.node("node1"), false)
	other := newTestCA(t, "another CA")
	for name, files := range map[string]TLSFiles{"foreign CA": other.node("impostor"), "plaintext": {}} {
		addr := freeAddr(t)
		impostor, got := tlsTransport(t, addr, files, true)
		if files.Enabled() { // accepts any client, to see what the member does
			impostor.tls.server.ClientCAs.AppendCertsFromPEM(mustRead(t, ca.caFile))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := member.GetConnection(ctx, addr)
		cancel()
		if err == nil {
			conn.Close()
			t.Fatalf("%s: the member connected to an impostor", name)
		}
		noBatch(t, got, "the member")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Incomplete or unusable TLS configurations are refused when the host
// opens, saying what is wrong.
func TestTLSConfigurationErrors(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	good := ca.node("node1")
	serverOnly := ca.node("server-only", x509.ExtKeyUsageServerAuth)
	other := newTestCA(t, "another CA").node("foreign")
	for _, c := range []struct {
		files TLSFiles
		want  string
	}{
		{TLSFiles{CAFile: good.CAFile}, "certificate and key are missing"},
		{TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile}, "CA is missing"},
		{TLSFiles{CAFile: good.CAFile, CertFile: good.CertFile}, "key is missing"},
		{TLSFiles{CAFile: good.CAFile, CertFile: good.CertFile, KeyFile: other.KeyFile}, "private key does not match"},
		{TLSFiles{CAFile: good.CAFile, CertFile: other.CertFile, KeyFile: other.KeyFile}, "does not chain to the CA"},
		{TLSFiles{CAFile: good.CAFile, CertFile: serverOnly.CertFile, KeyFile: serverOnly.KeyFile}, "for clientAuth"},
		{TLSFiles{CAFile: good.KeyFile, CertFile: good.CertFile, KeyFile: good.KeyFile}, "holds no PEM certificate"},
	} {
		_, err := Open(Config{NodeID: 1, Dir: t.TempDir(), RaftAddress: freeAddr(t), RTT: 10 * time.Millisecond, TLS: c.files})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open with %+v: %v, want an error saying %q", c.files, err, c.want)
		}
	}
}

// openTLSHost opens a Host whose transport uses files (none: plaintext).
func openTLSHost(t *testing.T, id uint64, files TLSFiles) *Host {
	t.Helper()
	h, err := Open(Config{NodeID: id, Dir: t.TempDir(), RaftAddress: freeAddr(t), RTT: 10 * time.Millisecond, TLS: files})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// Three hosts with certificates from the cluster's CA form a shard over
// mutual TLS and commit proposals. Two intruders that know the members'
// addresses, one with a certificate from another CA and one in plaintext,
// run a replica of the same shard listing the members and themselves, and
// campaign: every connection they make is refused, they never learn a
// leader nor receive an entry, and the shard keeps committing meanwhile.
func TestMutualTLSClusterShutsOutIntruders(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	rc := ReplicaConfig{ShardID: 7, ElectionTicks: 10}
	sm := func() dbsm.IStateMachine { return &counter{} }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	hosts := make([]*Host, 3)
	members := map[uint64]string{}
	for i := range hosts {
		hosts[i] = openTLSHost(t, uint64(i+1), ca.node("node"+string(rune('1'+i))))
		members[uint64(i+1)] = hosts[i].nh.RaftAddress()
	}
	for _, h := range hosts {
		if err := h.StartInMemory(rc, members, false, sm); err != nil {
			t.Fatal(err)
		}
	}
	leader := waitAnyLeader(t, ctx, hosts, rc.ShardID)
	proposeN(t, ctx, leader, rc.ShardID, 10)

	intruders := []*Host{
		openTLSHost(t, 4, newTestCA(t, "another CA").node("intruder")),
		openTLSHost(t, 4, TLSFiles{}),
	}
	for _, in := range intruders {
		m := map[uint64]string{4: in.nh.RaftAddress()}
		for id, addr := range members {
			m[id] = addr
		}
		if err := in.StartInMemory(rc, m, false, sm); err != nil {
			t.Fatal(err)
		}
	}
	// While they campaign, the shard keeps committing.
	var refused uint64
	for round := 0; refused < 2 || round < 20; round++ {
		if ctx.Err() != nil {
			t.Fatalf("after %d rounds, the members refused %d intruder connections, want at least 2", round, refused)
		}
		leader = waitAnyLeader(t, ctx, hosts, rc.ShardID)
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := leader.Propose(pctx, rc.ShardID, []byte{1})
		pcancel()
		if err != nil {
			t.Fatalf("round %d: a proposal failed while intruders campaigned: %v", round, err)
		}
		refused = 0
		for _, h := range hosts {
			refused += h.Events().ConnectionsRefused
		}
		time.Sleep(50 * time.Millisecond)
	}
	sum, err := As[uint64](leader.Read(ctx, rc.ShardID, "sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		waitSum(t, ctx, h, rc.ShardID, sum)
	}
	for i, in := range intruders {
		if id, ok := in.Leader(rc.ShardID); ok {
			t.Errorf("intruder %d learnt a leader, %d", i, id)
		}
		if got, err := As[uint64](in.StaleRead(rc.ShardID, "sum")); err != nil || got != 0 {
			t.Errorf("intruder %d: sum %d (%v), want 0: it received entries", i, got, err)
		}
	}
}

func waitAnyLeader(t *testing.T, ctx context.Context, hosts []*Host, shard uint64) *Host {
	t.Helper()
	for {
		for _, h := range hosts {
			if h.Leads(shard) {
				return h
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the shard has no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CheckPeer, run before a node is added to the cluster, passes a peer with
// a certificate from the cluster's CA that trusts it, and refuses one with
// a foreign certificate, a plaintext one, and one that trusts another CA;
// a peer that cannot be reached is another error (the join is retried).
func TestCheckPeerAuthenticatesProspectiveMembers(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	other := newTestCA(t, "another CA")
	h := openTLSHost(t, 1, ca.node("node1"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	good := openTLSHost(t, 2, ca.node("node2"))
	if err := h.CheckPeer(ctx, good.nh.RaftAddress()); err != nil {
		t.Fatalf("a member's certificate: %v", err)
	}
	// Its own certificate is good, but it trusts another CA (loadTLS
	// refuses that combination, so it is made by hand).
	wrongTrust, _ := tlsTransport(t, freeAddr(t), ca.node("node3b"), true)
	wrongTrust.tls.server.ClientCAs = x509.NewCertPool()
	wrongTrust.tls.server.ClientCAs.AppendCertsFromPEM(mustRead(t, other.caFile))
	for name, addr := range map[string]string{
		"foreign certificate": openTLSHost(t, 4, other.node("intruder")).nh.RaftAddress(),
		"plaintext":           openTLSHost(t, 5, TLSFiles{}).nh.RaftAddress(),
		"trusts another CA":   wrongTrust.addr,
	} {
		if err := h.CheckPeer(ctx, addr); !errors.Is(err, ErrPeerNotAuthenticated) {
			t.Errorf("%s: %v, want ErrPeerNotAuthenticated", name, err)
		}
	}
	if err := h.CheckPeer(ctx, freeAddr(t)); err == nil || errors.Is(err, ErrPeerNotAuthenticated) {
		t.Errorf("nothing listening: %v, want an error other than ErrPeerNotAuthenticated", err)
	}
	if err := openTLSHost(t, 6, TLSFiles{}).CheckPeer(ctx, good.nh.RaftAddress()); err != nil {
		t.Errorf("a plaintext host checks nothing, got %v", err)
	}
}

// BenchmarkTransportBatches sends 4 KiB message batches one way, over
// plaintext and over mutual TLS, and waits for the last to arrive:
//
//	go test ./services/storenode/raft -run '^$' -bench TransportBatches -benchtime 2s
func BenchmarkTransportBatches(b *testing.B) {
	ca := newTestCA(b, "bench CA")
	for _, tc := range []struct {
		name  string
		files func() TLSFiles
	}{{"plaintext", func() TLSFiles { return TLSFiles{} }}, {"mtls", func() TLSFiles { return ca.node("bench") }}} {
		b.Run(tc.name, func(b *testing.B) {
			files := tc.files()
			load := func() *transportTLS {
				c, err := loadTLS(files)
				if err != nil {
					b.Fatal(err)
				}
				return c
			}
			addr := freeAddrB(b)
			got := make(chan struct{}, 1024)
			rx := tcpFactory{tls: load()}.Create(config.NodeHostConfig{RaftAddress: addr},
				func(pb.MessageBatch) { got <- struct{}{} }, func(pb.Chunk) bool { return true }).(*tcpTransport)
			if err := rx.Start(); err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			tx := tcpFactory{tls: load()}.Create(config.NodeHostConfig{RaftAddress: freeAddrB(b)}, nil, nil)
			conn, err := tx.GetConnection(context.Background(), addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			mb := pb.MessageBatch{DeploymentId: 1, Requests: []pb.Message{
				{Type: pb.Replicate, To: 2, From: 1, ShardID: 9, Term: 1, Entries: []pb.Entry{{Index: 1, Term: 1, Cmd: make([]byte, 4<<10)}}},
			}}
			b.SetBytes(int64(mb.Size()))
			b.ResetTimer()
			done := make(chan struct{})
			go func() {
				for range b.N {
					<-got
				}
				close(done)
			}()
			for range b.N {
				if err := conn.SendMessageBatch(mb); err != nil {
					b.Fatal(err)
				}
			}
			<-done
		})
	}
}

func freeAddrB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// What the transport exists for (DESIGN.md, "The transport") holds over
// TLS too: a connection to a peer's previous process carries the next
// batch to the restarted peer without an error, a write refused before the
// watcher noticed is made again, and sending to a peer that is down fails.
func TestTLSTransportOutlivesAPeerRestart(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	addr := freeAddr(t)
	files := ca.node("peer")
	peer, got := tlsTransport(t, addr, files, true)
	sender, _ := tlsTransport(t, freeAddr(t), ca.node("sender"), false)
	conn, err := sender.GetConnection(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SendMessageBatch(batch(1)); err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, 1)

	peer.Close()
	peer, got = tlsTransport(t, addr, files, true)
	time.Sleep(50 * time.Millisecond)
	for term := uint64(2); term <= 3; term++ {
		if err := conn.SendMessageBatch(batch(term)); err != nil {
			t.Fatalf("send to the restarted peer: %v", err)
		}
		wantBatch(t, got, term)
	}

	peer.Close()
	peer, got = tlsTransport(t, addr, files, true)
	time.Sleep(50 * time.Millisecond)
	c := conn.(*msgConn)
	c.gone = make(chan struct{}) // as if the watcher had not seen the reset yet
	if err := c.SendMessageBatch(batch(4)); err != nil {
		t.Fatalf("send on a reset connection: %v", err)
	}
	wantBatch(t, got, 4)

	peer.Close()
	time.Sleep(50 * time.Millisecond)
	if err := conn.SendMessageBatch(batch(5)); err == nil {
		t.Fatal("a send to a peer that is down succeeded")
	}
}

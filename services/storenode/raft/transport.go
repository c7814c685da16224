package raft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/logger"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"github.com/lni/goutils/stringutil"
)

// The Raft transport: dragonboat's go-tcp-transport, re-implemented on the
// same wire format (transport_frame.go) with one difference, the reason it
// exists (DESIGN.md, "The transport"): a message connection whose peer went
// away is replaced before it is written to, or when a write to it is
// refused, instead of failing. dragonboat charges every failed connection to
// the peer's circuit breaker, which then drops every message to that peer,
// for every shard, for up to a second and more: a connection left over
// from a peer's previous process, found dead when an election first uses
// it, cut two live nodes apart and made the survivors of a node failure
// lose their quorum.

var tlog = logger.GetLogger("transport")

// Socket settings, as dragonboat's.
const (
	dialTimeout = 5 * time.Second
	keepAlive   = 10 * time.Second
	// recvBufSize is the payload buffer a receiving connection keeps
	// (dragonboat's: a snapshot chunk and some).
	recvBufSize = ioChunk + 128<<10
)

// tcpFactory makes the transport; dragonboat calls it once per NodeHost.
// With tls set, every connection is mutually authenticated
// (transport_tls.go); created, if set, receives the transport made.
type tcpFactory struct {
	tls     *transportTLS
	created *atomic.Pointer[tcpTransport]
}

func (f tcpFactory) Create(nhc config.NodeHostConfig, onBatch raftio.MessageHandler, onChunk raftio.ChunkHandler) raftio.ITransport {
	t := &tcpTransport{addr: nhc.GetListenAddress(), tls: f.tls, onBatch: onBatch, onChunk: onChunk, conns: map[net.Conn]struct{}{}}
	if f.created != nil {
		f.created.Store(t)
	}
	return t
}

// Validate accepts the addresses dragonboat's own transport accepts.
// dragonboat validates the sender's address of every message batch it
// receives, and its check runs a regular expression (2.5% of a follower's
// CPU at 64 clients, issue 11), so addresses found valid are remembered:
// a cluster has a handful. Invalid ones are checked each time.
func (tcpFactory) Validate(addr string) bool {
	if _, ok := validAddrs.Load(addr); ok {
		return true
	}
	if !stringutil.IsValidAddress(addr) {
		return false
	}
	if validAddrCount.Load() < maxValidAddrs {
		if _, loaded := validAddrs.LoadOrStore(addr, struct{}{}); !loaded {
			validAddrCount.Add(1)
		}
	}
	return true
}

// validAddrs holds up to maxValidAddrs addresses Validate accepted.
var (
	validAddrs     sync.Map
	validAddrCount atomic.Int32
)

const maxValidAddrs = 1024

// tcpTransport listens for other hosts' connections and dials theirs. It
// owns its accept loops and one goroutine per accepted connection; Close
// ends them all.
type tcpTransport struct {
	addr    string
	tls     *transportTLS // nil: plaintext
	onBatch raftio.MessageHandler
	onChunk raftio.ChunkHandler

	mu        sync.Mutex
	closed    bool
	listeners []net.Listener
	conns     map[net.Conn]struct{} // accepted, still served
	wg        sync.WaitGroup

	refused atomic.Uint64 // accepted connections refused: TLS handshake failed, or a malformed frame
}

var _ raftio.ITransport = (*tcpTransport)(nil)

func (t *tcpTransport) Name() string { return "logbook-tcp" }

// Start listens on the listen address: on the IP it names, or, like
// dragonboat, on every IPv4 address its host name resolves to.
func (t *tcpTransport) Start() error {
	addrs, err := listenAddrs(t.addr)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Close()
			return fmt.Errorf("raft transport: listen on %s: %w", a, err)
		}
		t.mu.Lock()
		t.listeners = append(t.listeners, l)
		t.mu.Unlock()
		t.wg.Go(func() { t.accept(l) })
	}
	return nil
}

func listenAddrs(addr string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("raft transport: listen address %q: %w", addr, err)
	}
	if host == "" || net.ParseIP(host) != nil {
		return []string{addr}, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, fmt.Errorf("raft transport: listen address %q: %w", addr, err)
	}
	var out []string
	seen := map[string]bool{}
	for _, ip := range ips {
		if ip.To4() == nil || seen[ip.String()] {
			continue
		}
		seen[ip.String()] = true
		out = append(out, net.JoinHostPort(ip.String(), port))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("raft transport: listen address %q: no IPv4 address", addr)
	}
	return out, nil
}

func (t *tcpTransport) accept(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			tlog.Errorf("accept on %s: %v", l.Addr(), err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		setSocket(conn)
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			conn.Close()
			return
		}
		t.conns[conn] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.wg.Done()
			defer func() {
				t.mu.Lock()
				delete(t.conns, conn)
				t.mu.Unlock()
			}()
			c, err := t.handshake(conn)
			if err != nil {
				conn.Close()
				return
			}
			t.serve(c)
			c.Close()
		}()
	}
}

// handshake authenticates an accepted connection when TLS is on: a peer
// without a certificate from our CA is refused before anything it sent is
// read as a frame.
func (t *tcpTransport) handshake(conn net.Conn) (net.Conn, error) {
	if t.tls == nil {
		return conn, nil
	}
	c, err := t.tls.accept(conn)
	if err != nil {
		t.refused.Add(1)
		tlog.Warningf("refused a connection from %s: TLS handshake: %v", conn.RemoteAddr(), err)
		return nil, err
	}
	return c, nil
}

// serve reads frames off one accepted connection until it closes or sends
// something malformed.
func (t *tcpTransport) serve(conn net.Conn) {
	hdr := make([]byte, headerSize)
	buf := make([]byte, recvBufSize)
	r := newFrameReader(conn)
	for {
		method, payload, err := r.readFrame(hdr, buf)
		if errors.Is(err, errPoison) {
			conn.SetWriteDeadline(time.Now().Add(headerWait))
			conn.Write(poison[:])
			return
		}
		if err != nil {
			if errors.Is(err, errBadFrame) {
				t.refused.Add(1)
				tlog.Errorf("from %s: %v", conn.RemoteAddr(), err)
			}
			return
		}
		switch method {
		case methodBatch:
			var b pb.MessageBatch
			if err := b.Unmarshal(payload); err != nil {
				tlog.Errorf("from %s: bad message batch: %v", conn.RemoteAddr(), err)
				return
			}
			t.onBatch(b)
		case methodChunk:
			var c pb.Chunk
			if err := c.Unmarshal(payload); err != nil {
				tlog.Errorf("from %s: bad snapshot chunk: %v", conn.RemoteAddr(), err)
				return
			}
			if !t.onChunk(c) {
				return
			}
		}
	}
}

// Close stops listening, closes every accepted connection and waits for
// their goroutines. Connections dialled out are their users' to close.
func (t *tcpTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	for _, l := range t.listeners {
		l.Close()
	}
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// GetConnection returns a connection that sends message batches to target.
func (t *tcpTransport) GetConnection(ctx context.Context, target string) (raftio.IConnection, error) {
	c := &msgConn{target: target, dial: t.dial, hdr: make([]byte, headerSize)}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// GetSnapshotConnection returns a connection that streams one snapshot's
// chunks to target.
func (t *tcpTransport) GetSnapshotConnection(ctx context.Context, target string) (raftio.ISnapshotConnection, error) {
	conn, err := t.dial(ctx, target)
	if err != nil {
		return nil, err
	}
	return &snapConn{conn: conn, hdr: make([]byte, headerSize)}, nil
}

// dial connects to target, and authenticates both ends when TLS is on.
func (t *tcpTransport) dial(ctx context.Context, target string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	setSocket(conn)
	if t.tls == nil {
		return conn, nil
	}
	tc, err := t.tls.dial(ctx, conn, target)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// setSocket applies dragonboat's socket options: closing resets the
// connection (no lingering), and keepalives find a vanished peer.
func setSocket(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(keepAlive)
	}
}

// snapConn streams snapshot chunks; Close sends the poison and waits for
// its acknowledgement, so that the receiver has taken every chunk.
type snapConn struct {
	conn net.Conn
	hdr  []byte
}

func (s *snapConn) SendChunk(c pb.Chunk) error {
	buf := pb.MustMarshalTo(&c, make([]byte, c.Size()))
	return writeFrame(s.conn, s.hdr, methodChunk, buf)
}

func (s *snapConn) Close() {
	defer s.conn.Close()
	if err := s.conn.SetWriteDeadline(time.Now().Add(headerWait)); err != nil {
		return
	}
	if _, err := s.conn.Write(poison[:]); err != nil {
		return
	}
	var ack [2]byte
	if err := s.conn.SetReadDeadline(time.Now().Add(poisonWait)); err != nil {
		return
	}
	if _, err := io.ReadFull(s.conn, ack[:]); err != nil {
		tlog.Debugf("no poison acknowledgement from %s: %v", s.conn.RemoteAddr(), err)
	}
}

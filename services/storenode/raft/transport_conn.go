package raft

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// msgConn sends message batches to one peer over one TCP connection (one
// of dragonboat's streams to that peer; it calls SendMessageBatch and Close
// from one goroutine). The peer never writes on such a connection, so a
// watcher goroutine blocked reading it learns at once when the peer's end
// is gone: its process died or restarted (the kernel resets or closes the
// connection), or it dropped the connection.
//
// A connection whose peer is gone is replaced before the next batch is
// written, and a write that the peer's kernel refuses (reset, broken pipe:
// no process holds that connection any more) is made again on a fresh
// connection. Only when the fresh connection cannot be made (nothing
// listens: the peer is down) does the batch fail, and dragonboat marks the
// peer unreachable. Without this, a connection made to a peer's previous
// process, idle since (followers of a shard only talk to its leader, so
// some of the four streams between two nodes carry nothing for minutes),
// failed on its first use, typically a vote in the election after another
// node died, and dragonboat's per-peer circuit breaker then dropped every
// message between the two live nodes for up to a second and more.
type msgConn struct {
	target  string
	dial    func(context.Context, string) (net.Conn, error)
	hdr     []byte
	buf     []byte
	conn    net.Conn
	gone    chan struct{} // closed by the watcher when the connection ends
	watched chan struct{} // closed when the watcher returns
}

// keepBuf is the largest marshalling buffer a connection keeps between
// batches (bigger batches get one of their own).
const keepBuf = ioChunk

func (c *msgConn) connect(ctx context.Context) error {
	conn, err := c.dial(ctx, c.target)
	if err != nil {
		return err
	}
	c.conn, c.gone, c.watched = conn, make(chan struct{}), make(chan struct{})
	go watch(conn, c.gone, c.watched) // ends when conn ends; Close waits for it
	return nil
}

// watch blocks reading conn, on which nothing is ever sent to us: the read
// returns when the connection ends, whichever end ends it (bytes from the
// peer would break the protocol: the connection is as good as gone).
func watch(conn net.Conn, gone, done chan struct{}) {
	defer close(done)
	var b [1]byte
	conn.Read(b[:])
	close(gone)
}

func (c *msgConn) peerGone() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// reconnect replaces the connection with a fresh one to the same target.
func (c *msgConn) reconnect() error {
	c.Close()
	if err := c.connect(context.Background()); err != nil {
		return err
	}
	tlog.Infof("replaced a connection to %s that its other end had closed", c.target)
	return nil
}

// refused reports a write error that says the peer's end of the connection
// no longer exists (as opposed to a slow or unreachable peer).
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// SendMessageBatch writes one batch, on a fresh connection if the peer has
// left this one (see msgConn).
func (c *msgConn) SendMessageBatch(b pb.MessageBatch) error {
	sz := b.SizeUpperLimit()
	buf := c.buf
	if cap(buf) < sz {
		buf = make([]byte, sz)
		if sz <= keepBuf {
			c.buf = buf
		}
	}
	payload := pb.MustMarshalTo(&b, buf[:sz])
	fresh := false
	if c.peerGone() {
		if err := c.reconnect(); err != nil {
			return err
		}
		fresh = true
	}
	err := writeFrame(c.conn, c.hdr, methodBatch, payload)
	if err == nil || fresh || !(refused(err) || c.peerGone()) {
		return err
	}
	if rerr := c.reconnect(); rerr != nil {
		return fmt.Errorf("%w; reconnecting: %w", err, rerr)
	}
	return writeFrame(c.conn, c.hdr, methodBatch, payload)
}

// Close closes the connection and waits for its watcher.
func (c *msgConn) Close() {
	if c.conn == nil {
		return
	}
	c.conn.Close()
	<-c.watched
	c.conn = nil
}

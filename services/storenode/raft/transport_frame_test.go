package raft

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// frameHeader is a well-formed frame start (magic and header) announcing a
// payload of size bytes, whatever follows.
func frameHeader(size uint64) []byte {
	b := make([]byte, 2+headerSize)
	copy(b, frameMagic[:])
	h := b[2:]
	binary.BigEndian.PutUint16(h[0:], methodBatch)
	binary.BigEndian.PutUint64(h[2:], size)
	binary.BigEndian.PutUint32(h[14:], 0)
	binary.BigEndian.PutUint32(h[10:], crc32.ChecksumIEEE(h))
	return b
}

// allocated returns the bytes allocated by the process while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A header announcing a payload over the bound is refused as malformed
// without the payload's memory being allocated, and a payload under the
// bound gets memory as it arrives, not as announced: a peer cannot make a
// node allocate what it does not send.
func TestReadFrameBoundsWhatAHeaderMakesItAllocate(t *testing.T) {
	read := func(t *testing.T, send []byte) error {
		t.Helper()
		a, b := net.Pipe()
		defer a.Close()
		go func() { // ends when the frame is written, or b is closed
			a.Write(send)
			a.Close()
		}()
		defer b.Close()
		_, _, err := readFrame(b, make([]byte, headerSize), make([]byte, recvBufSize))
		return err
	}
	t.Run("over the bound", func(t *testing.T) {
		var err error
		n := allocated(func() { err = read(t, frameHeader(maxFrameSize+1)) })
		if !errors.Is(err, errBadFrame) {
			t.Fatalf("a frame of %d bytes: %v, want a malformed frame", maxFrameSize+1, err)
		}
		if n > 16<<20 {
			t.Fatalf("refusing a frame header allocated %d bytes", n)
		}
	})
	t.Run("under the bound, not sent", func(t *testing.T) {
		var err error
		send := append(frameHeader(maxFrameSize), make([]byte, 3<<20)...) // 3 MiB of the 256 announced
		n := allocated(func() { err = read(t, send) })
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a frame cut short: %v, want an unexpected EOF", err)
		}
		if n > 32<<20 {
			t.Fatalf("3 MiB of a frame announcing %d bytes allocated %d bytes", maxFrameSize, n)
		}
	})
}

// The transport drops a connection whose frame announces a payload over
// the bound, at once.
func TestTransportDropsOversizedFrames(t *testing.T) {
	addr := freeAddr(t)
	peer, got := receiver(t, addr)
	defer peer.Close()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(frameHeader(1 << 40)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := conn.Read(b[:]); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after an oversized frame header (%v)", err)
	}
	noBatch(t, got, "the oversized frame")
}

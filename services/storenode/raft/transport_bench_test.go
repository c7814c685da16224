package raft

import (
	"net"
	"testing"
)

// BenchmarkFrameRoundTrip sends small frames (a one-append Raft message is
// a few hundred bytes) over a loopback TCP connection, each read by the
// receiver before the next is written: the transport's cost per message at
// low load, where every frame arrives alone.
func BenchmarkFrameRoundTrip(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	out, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	in, ok := <-accepted
	if !ok {
		b.Fatal("accept failed")
	}
	defer in.Close()
	payload := make([]byte, 400)
	whdr, rhdr, buf := make([]byte, headerSize), make([]byte, headerSize), make([]byte, 4096)
	r := newFrameReader(in)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if err := writeFrame(out, whdr, methodBatch, payload); err != nil {
			b.Fatal(err)
		}
		if _, p, err := r.readFrame(rhdr, buf); err != nil || len(p) != len(payload) {
			b.Fatal(err)
		}
	}
}

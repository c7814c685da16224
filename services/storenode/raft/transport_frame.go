package raft

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"
)

// The Raft transport's wire format, byte for byte dragonboat's
// go-tcp-transport (internal/transport/tcp.go at the pinned version), so
// that nodes running dragonboat's own transport and nodes running ours talk
// to each other (a rolling upgrade mixes them). A frame is:
//
//	magic      2 bytes  0xAE 0x7D
//	method     2 bytes  100: a pb.MessageBatch, 200: a pb.Chunk (big endian)
//	size       8 bytes  payload length (big endian)
//	headerCRC  4 bytes  CRC-32 (IEEE) of these 18 header bytes with this field zero
//	payloadCRC 4 bytes  CRC-32 (IEEE) of the payload
//	payload    size bytes
//
// A snapshot connection ends with the poison (two zero bytes instead of a
// magic), which the receiver acknowledges with the same two bytes.

const (
	methodBatch uint16 = 100
	methodChunk uint16 = 200
	headerSize         = 18
	// ioChunk is how much of a payload one read or write deadline covers.
	ioChunk = 2 << 20
	// maxFrameSize bounds an incoming payload: a header announcing more is
	// refused as malformed (dragonboat's transport trusted it and allocated
	// whatever a header said). The largest legitimate frame is a message
	// batch: dragonboat adds messages to a batch while it holds under
	// 64 MiB (settings.MaxMessageBatchSize), and one Replicate message
	// carries up to 64 MiB of entries (settings.Soft.MaxEntrySize) or a
	// single larger entry; ours hold at most 8 MiB of commands plus one
	// request (replica/proposer.go), a request at most a NATS payload
	// (64 MiB at most). So a batch stays under 64 + 72 MiB and some
	// framing; snapshot chunks are 2 MiB. 256 MiB leaves room.
	maxFrameSize = 256 << 20
)

var (
	frameMagic = [2]byte{0xAE, 0x7D}
	poison     = [2]byte{0, 0}
)

// Deadlines, as dragonboat's: a frame's header must follow its magic within
// headerWait, each ioChunk of payload must move within chunkWait.
const (
	headerWait = 2 * time.Second
	chunkWait  = 5 * time.Second
	poisonWait = 10 * time.Second
)

var (
	errBadFrame = errors.New("raft transport: malformed frame")
	errPoison   = errors.New("raft transport: poison received")
)

// encodeHeader fills buf (headerSize bytes) for a payload.
func encodeHeader(buf []byte, method uint16, payload []byte) {
	binary.BigEndian.PutUint16(buf[0:], method)
	binary.BigEndian.PutUint64(buf[2:], uint64(len(payload)))
	binary.BigEndian.PutUint32(buf[10:], 0)
	binary.BigEndian.PutUint32(buf[14:], crc32.ChecksumIEEE(payload))
	binary.BigEndian.PutUint32(buf[10:], crc32.ChecksumIEEE(buf[:headerSize]))
}

type header struct {
	method uint16
	size   uint64
	crc    uint32
}

// decodeHeader checks and decodes a header (buf is left as it was).
func decodeHeader(buf []byte) (header, error) {
	got := binary.BigEndian.Uint32(buf[10:])
	binary.BigEndian.PutUint32(buf[10:], 0)
	want := crc32.ChecksumIEEE(buf[:headerSize])
	binary.BigEndian.PutUint32(buf[10:], got)
	if got != want {
		return header{}, fmt.Errorf("%w: header checksum", errBadFrame)
	}
	h := header{
		method: binary.BigEndian.Uint16(buf[0:]),
		size:   binary.BigEndian.Uint64(buf[2:]),
		crc:    binary.BigEndian.Uint32(buf[14:]),
	}
	if h.method != methodBatch && h.method != methodChunk {
		return header{}, fmt.Errorf("%w: method %d", errBadFrame, h.method)
	}
	if h.size == 0 {
		return header{}, fmt.Errorf("%w: empty payload", errBadFrame)
	}
	return h, nil
}

// writeFrame writes one frame: magic, header and payload in one go, under a
// deadline that grows with the payload.
func writeFrame(conn net.Conn, hdr []byte, method uint16, payload []byte) error {
	encodeHeader(hdr, method, payload)
	chunks := time.Duration(len(payload)/ioChunk + 1)
	if err := conn.SetWriteDeadline(time.Now().Add(headerWait + chunks*chunkWait)); err != nil {
		return err
	}
	bufs := net.Buffers{frameMagic[:], hdr, payload}
	_, err := bufs.WriteTo(conn)
	return err
}

// readFrame reads one frame off conn without a reader of its own (tests).
func readFrame(conn net.Conn, hdr, buf []byte) (uint16, []byte, error) {
	return newFrameReader(conn).readFrame(hdr, buf)
}

// frameReader reads frames off one connection through a buffer: a small
// frame (a Raft message at low load is a few hundred bytes) then costs one
// read system call instead of three (magic, header, payload), and frames
// that arrive together are read together. A deadline is set only when a
// read has to wait on the connection, for the data it needs is not all
// buffered yet.
type frameReader struct {
	conn net.Conn
	br   *bufio.Reader
}

// frameReadBuf is the read buffer of a receiving connection; larger
// payloads are read past it, straight into the payload buffer.
const frameReadBuf = 64 << 10

func newFrameReader(conn net.Conn) *frameReader {
	return &frameReader{conn: conn, br: bufio.NewReaderSize(conn, frameReadBuf)}
}

// readFull fills p, under deadline d unless p is buffered already (a zero
// d: no deadline).
func (r *frameReader) readFull(p []byte, d time.Duration) error {
	if r.br.Buffered() < len(p) {
		var t time.Time
		if d > 0 {
			t = time.Now().Add(d)
		}
		if err := r.conn.SetReadDeadline(t); err != nil {
			return err
		}
	}
	_, err := io.ReadFull(r.br, p)
	return err
}

// readFrame reads the next frame's payload into buf (grown if too small).
// It waits for the frame's first bytes without a deadline: an idle
// connection is normal. A payload over maxFrameSize is refused, and one
// larger than buf gets memory as its bytes arrive, not as its header
// announces them: a peer must send what it makes us hold.
func (r *frameReader) readFrame(hdr, buf []byte) (uint16, []byte, error) {
	var magic [2]byte
	if err := r.readFull(magic[:], 0); err != nil {
		return 0, nil, err
	}
	if magic == poison {
		return 0, nil, errPoison
	}
	if !bytes.Equal(magic[:], frameMagic[:]) {
		return 0, nil, fmt.Errorf("%w: magic %x", errBadFrame, magic)
	}
	if err := r.readFull(hdr[:headerSize], headerWait); err != nil {
		return 0, nil, err
	}
	h, err := decodeHeader(hdr)
	if err != nil {
		return 0, nil, err
	}
	if h.size > maxFrameSize {
		return 0, nil, fmt.Errorf("%w: payload of %d bytes, over the %d-byte bound", errBadFrame, h.size, maxFrameSize)
	}
	size := int(h.size)
	if size > cap(buf) {
		buf = nil
	}
	buf = buf[:0]
	for len(buf) < size {
		n := min(ioChunk, size-len(buf))
		if len(buf)+n > cap(buf) { // at most twice what arrived so far
			grown := make([]byte, len(buf), min(size, max(2*cap(buf), len(buf)+n)))
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:len(buf)+n]
		if err := r.readFull(buf[len(buf)-n:], chunkWait); err != nil {
			return 0, nil, err
		}
	}
	if crc32.ChecksumIEEE(buf) != h.crc {
		return 0, nil, fmt.Errorf("%w: payload checksum", errBadFrame)
	}
	return h.method, buf, nil
}

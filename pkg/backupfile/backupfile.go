// Package backupfile reads and writes Logbook backup files: a store's
// backup records (pkg/wire, schemas/backup.md) framed and checksummed.
//
//	file    := magic "LBBACKUP" version(uint32 BE) frame(H) frame(C)* frame(T) EOF
//	frame   := kind(1 byte) length(uint32 BE) payload(length bytes) crc(uint32 BE)
//
// kind 'H' holds the BackupHeader, 'C' a BackupChunk, 'T' the
// BackupTrailer, each as a MessagePack map. crc is the CRC-32C (Castagnoli)
// of kind, length and payload. The trailer holds the counts of the records
// and the SHA-256 of every byte before its frame. A reader checks all of
// it, in one pass, holding one frame at a time: a file that is not a backup,
// a damaged frame, a frame out of place, a missing trailer or bytes after it
// are invalid_backup; another version is unsupported_backup_version.
package backupfile

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Magic opens every backup file.
const Magic = "LBBACKUP"

// Version is the file format version this package writes and reads; it is
// wire.BackupFormat, the version of the records.
const Version = wire.BackupFormat

// MaxFrame bounds a frame's payload: a reader refuses a larger length
// before allocating it.
const MaxFrame = 64 << 20

// Frame kinds.
const (
	KindHeader  = 'H'
	KindChunk   = 'C'
	KindTrailer = 'T'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// limits are those a file's records are checked with: sizes are the
// restoring store's business, which knows its own max_event_size.
var limits = wire.Limits{MaxRequestSize: MaxFrame, MaxEventSize: MaxFrame}.WithDefaults()

func invalid(format string, args ...any) error {
	return codes.New(codes.InvalidBackup, format, args...)
}

// Writer writes a backup file: WriteHeader, WriteChunk for each chunk, then
// Close with nothing else written.
type Writer struct {
	w      *bufio.Writer
	sum    hash.Hash
	counts wire.BackupCounts
	state  int // 0: nothing written, 1: header written, 2: closed
	n      int64
}

// NewWriter returns a writer of a backup file to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<20), sum: sha256.New()}
}

// Bytes returns how many bytes were written so far.
func (w *Writer) Bytes() int64 { return w.n }

// Counts returns the records written so far.
func (w *Writer) Counts() wire.BackupCounts { return w.counts }

func (w *Writer) write(b []byte) error {
	w.sum.Write(b)
	w.n += int64(len(b))
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("backupfile: write: %w", err)
	}
	return nil
}

func (w *Writer) frame(kind byte, v any) error {
	payload, err := wire.Marshal(v)
	if err != nil {
		return err
	}
	if len(payload) > MaxFrame {
		return fmt.Errorf("backupfile: a frame of %d bytes, more than %d", len(payload), MaxFrame)
	}
	head := binary.BigEndian.AppendUint32([]byte{kind}, uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, payload)
	if err := w.write(head); err != nil {
		return err
	}
	if err := w.write(payload); err != nil {
		return err
	}
	return w.write(binary.BigEndian.AppendUint32(nil, crc))
}

// WriteHeader writes the magic, the version and the header.
func (w *Writer) WriteHeader(h *wire.BackupHeader) error {
	if w.state != 0 {
		return errors.New("backupfile: header written twice")
	}
	w.state = 1
	if err := w.write(binary.BigEndian.AppendUint32([]byte(Magic), Version)); err != nil {
		return err
	}
	return w.frame(KindHeader, h)
}

// WriteChunk writes one chunk of records.
func (w *Writer) WriteChunk(c *wire.BackupChunk) error {
	if w.state != 1 {
		return errors.New("backupfile: a chunk outside header and close")
	}
	w.counts.Add(c)
	return w.frame(KindChunk, c)
}

// Close writes the trailer and flushes; it does not close the underlying
// writer. The file is a backup only once Close returned nil.
func (w *Writer) Close() error {
	if w.state != 1 {
		return errors.New("backupfile: close without a header, or twice")
	}
	w.state = 2
	t := wire.BackupTrailer{Counts: w.counts, SHA256: hex.EncodeToString(w.sum.Sum(nil))}
	if err := w.frame(KindTrailer, &t); err != nil {
		return err
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("backupfile: write: %w", err)
	}
	return nil
}

// Reader reads a backup file and checks it as it goes: Header first, then
// Next until io.EOF, which it returns only after the trailer checked out.
type Reader struct {
	r      *bufio.Reader
	sum    hash.Hash
	n      int64
	header *wire.BackupHeader
	counts wire.BackupCounts
	done   bool
	err    error
}

// NewReader returns a reader of the backup file in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 1<<20), sum: sha256.New()}
}

// Bytes returns how many bytes were read so far.
func (r *Reader) Bytes() int64 { return r.n }

// Counts returns the records read so far.
func (r *Reader) Counts() wire.BackupCounts { return r.counts }

func (r *Reader) readFull(b []byte, what string) error {
	n, err := io.ReadFull(r.r, b)
	r.n += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return invalid("the file is truncated (in %s, at byte %d)", what, r.n)
	}
	if err != nil {
		return fmt.Errorf("backupfile: read: %w", err)
	}
	return nil
}

// frame reads one frame; the running SHA-256 covers it only when sum is set.
func (r *Reader) frame(sum bool) (byte, []byte, error) {
	head := make([]byte, 5)
	if err := r.readFull(head, "a frame header"); err != nil {
		return 0, nil, err
	}
	kind, n := head[0], binary.BigEndian.Uint32(head[1:])
	if kind != KindHeader && kind != KindChunk && kind != KindTrailer {
		return 0, nil, invalid("unknown frame kind %#x at byte %d", kind, r.n-5)
	}
	if n > MaxFrame {
		return 0, nil, invalid("a frame of %d bytes, more than %d", n, MaxFrame)
	}
	payload := make([]byte, n)
	if err := r.readFull(payload, "a frame"); err != nil {
		return 0, nil, err
	}
	crc := make([]byte, 4)
	if err := r.readFull(crc, "a frame checksum"); err != nil {
		return 0, nil, err
	}
	want := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, payload)
	if binary.BigEndian.Uint32(crc) != want {
		return 0, nil, invalid("frame at byte %d: checksum mismatch (the file is damaged)", r.n-int64(n)-9)
	}
	if sum {
		r.sum.Write(head)
		r.sum.Write(payload)
		r.sum.Write(crc)
	}
	return kind, payload, nil
}

// Header reads and checks the magic, the version and the header.
func (r *Reader) Header() (*wire.BackupHeader, error) {
	if r.header != nil || r.err != nil {
		return r.header, r.err
	}
	h, err := r.readHeader()
	r.header, r.err = h, err
	return h, err
}

func (r *Reader) readHeader() (*wire.BackupHeader, error) {
	pre := make([]byte, len(Magic)+4)
	if err := r.readFull(pre, "the file header"); err != nil {
		return nil, err
	}
	if string(pre[:len(Magic)]) != Magic {
		return nil, invalid("not a Logbook backup file")
	}
	r.sum.Write(pre)
	if v := binary.BigEndian.Uint32(pre[len(Magic):]); v != Version {
		return nil, codes.New(codes.UnsupportedBackupVersion, "backup file version %d is not supported (this build reads %d)", v, Version)
	}
	kind, payload, err := r.frame(true)
	if err != nil {
		return nil, err
	}
	if kind != KindHeader {
		return nil, invalid("the first frame is not the header")
	}
	return wire.DecodeBackupHeader(payload, limits)
}

// Next returns the next chunk, or io.EOF once the trailer was read and
// checked: the counts match the records read, the SHA-256 matches the
// bytes, and nothing follows.
func (r *Reader) Next() (*wire.BackupChunk, error) {
	if _, err := r.Header(); err != nil {
		return nil, err
	}
	if r.done {
		return nil, io.EOF
	}
	if r.err != nil {
		return nil, r.err
	}
	c, err := r.next()
	if err != nil && err != io.EOF {
		r.err = err
	}
	return c, err
}

func (r *Reader) next() (*wire.BackupChunk, error) {
	sumBefore := r.sum.Sum(nil)
	kind, payload, err := r.frame(true)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindChunk:
		c, err := wire.DecodeBackupChunk(payload, limits)
		if err != nil {
			return nil, within(err, "frame ending at byte %d", r.n)
		}
		r.counts.Add(c)
		return c, nil
	case KindTrailer:
		t, err := wire.DecodeBackupTrailer(payload, limits)
		if err != nil {
			return nil, err
		}
		if t.SHA256 != hex.EncodeToString(sumBefore) {
			return nil, invalid("the file's SHA-256 does not match its trailer (the file was altered)")
		}
		if t.Counts != r.counts {
			return nil, invalid("the trailer counts %+v records, the file holds %+v", t.Counts, r.counts)
		}
		var one [1]byte
		if n, _ := r.r.Read(one[:]); n > 0 {
			return nil, invalid("bytes after the trailer")
		}
		r.done = true
		return nil, io.EOF
	}
	return nil, invalid("a second header at byte %d", r.n)
}

// within prefixes a *codes.Error's message with where it happened.
func within(err error, format string, args ...any) error {
	e := codes.As(err)
	if e == nil {
		return err
	}
	return &codes.Error{Code: e.Code, Message: fmt.Sprintf(format, args...) + ": " + e.Message}
}

// Verify reads a whole backup file and checks it; it returns the header
// and the counts.
func Verify(rd io.Reader) (*wire.BackupHeader, wire.BackupCounts, error) {
	r := NewReader(rd)
	h, err := r.Header()
	if err != nil {
		return nil, wire.BackupCounts{}, err
	}
	for {
		_, err := r.Next()
		if err == io.EOF {
			return h, r.Counts(), nil
		}
		if err != nil {
			return h, r.Counts(), err
		}
	}
}

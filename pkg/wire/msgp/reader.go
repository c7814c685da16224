// Package msgp reads MessagePack from a byte slice without reflection and
// without copying: the few hot paths that handle events by the thousand
// (events read from a store's engine, pages of events in read replies) use
// it; every other message goes through github.com/vmihailenco/msgpack.
//
// It reads what that library writes, with the same leniency: nil reads as
// the zero value of any type, integers of any width and sign read as any
// integer, str and bin both read as bytes.
package msgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort is the error of a value cut off by the end of the input.
var ErrShort = errors.New("msgp: unexpected end of input")

// Reader reads consecutive values from one byte slice.
type Reader struct {
	b   []byte
	off int
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Rest is what is left to read.
func (r *Reader) Rest() []byte { return r.b[r.off:] }

func (r *Reader) next(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, ErrShort
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *Reader) code() (byte, error) {
	if r.off >= len(r.b) {
		return 0, ErrShort
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *Reader) uintN(n int) (uint64, error) {
	p, err := r.next(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

func typeError(want string, c byte) error {
	return fmt.Errorf("msgp: want %s, found code 0x%02x", want, c)
}

// length reads the header of a container or a string; kind is 'a' (array),
// 'm' (map) or 's' (str or bin). A nil reads as length 0.
func (r *Reader) length(kind byte) (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c == 0xc0:
		return 0, nil
	case kind == 'a' && c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case kind == 'm' && c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case kind == 's' && c >= 0xa0 && c <= 0xbf:
		return int(c & 0x1f), nil
	case kind == 'a' && c == 0xdc, kind == 'm' && c == 0xde, kind == 's' && (c == 0xda || c == 0xc5):
		n, err = r.uintN(2)
	case kind == 'a' && c == 0xdd, kind == 'm' && c == 0xdf, kind == 's' && (c == 0xdb || c == 0xc6):
		n, err = r.uintN(4)
	case kind == 's' && (c == 0xd9 || c == 0xc4):
		n, err = r.uintN(1)
	default:
		return 0, typeError(map[byte]string{'a': "an array", 'm': "a map", 's': "a string"}[kind], c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)) { // no container or string is longer than the input
		return 0, ErrShort
	}
	return int(n), nil
}

// ArrayLen reads an array header (nil: 0).
func (r *Reader) ArrayLen() (int, error) { return r.length('a') }

// MapLen reads a map header (nil: 0).
func (r *Reader) MapLen() (int, error) { return r.length('m') }

// Bytes reads a str or bin value (nil: nil). The result aliases the input.
func (r *Reader) Bytes() ([]byte, error) {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return nil, nil
	}
	n, err := r.length('s')
	if err != nil {
		return nil, err
	}
	return r.next(n)
}

// String reads a str or bin value as a new string (nil: "").
func (r *Reader) String() (string, error) {
	b, err := r.Bytes()
	return string(b), err
}

// Int reads an integer of any width (nil: 0); an unsigned one above
// math.MaxInt64 wraps, as the library does.
func (r *Reader) Int() (int64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c == 0xc0:
		return 0, nil
	case c >= 0xcc && c <= 0xcf:
		v, err := r.uintN(1 << (c - 0xcc))
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		n := 1 << (c - 0xd0)
		v, err := r.uintN(n)
		if err != nil {
			return 0, err
		}
		switch n {
		case 1:
			return int64(int8(v)), nil
		case 2:
			return int64(int16(v)), nil
		case 4:
			return int64(int32(v)), nil
		}
		return int64(v), nil
	}
	return 0, typeError("an integer", c)
}

// Uint reads an integer of any width as unsigned (nil: 0).
func (r *Reader) Uint() (uint64, error) {
	v, err := r.Int()
	return uint64(v), err
}

// Bool reads a bool (nil: false).
func (r *Reader) Bool() (bool, error) {
	c, err := r.code()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2, 0xc0:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, typeError("a bool", c)
}

// Skip reads past one value of any type, containers whole.
func (r *Reader) Skip() error {
	for pending := 1; pending > 0; pending-- {
		c, err := r.code()
		if err != nil {
			return err
		}
		n, items := 0, 0 // bytes to skip, values to read after this one
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			n = int(c & 0x1f)
		case c >= 0xc4 && c <= 0xc6, c >= 0xd9 && c <= 0xdb: // bin, str 8/16/32
			r.off--
			l, err := r.length('s')
			if err != nil {
				return err
			}
			n = l
		case c == 0xc7, c == 0xc8, c == 0xc9: // ext 8/16/32: length, type, data
			l, err := r.uintN(1 << (c - 0xc7))
			if err != nil {
				return err
			}
			n = int(min(l, math.MaxInt32)) + 1
		case c == 0xca:
			n = 4
		case c == 0xcb:
			n = 8
		case c >= 0xcc && c <= 0xcf:
			n = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3:
			n = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1..16, plus the type byte
			n = 1<<(c-0xd4) + 1
		case c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf:
			w := 2
			if c == 0xdd || c == 0xdf {
				w = 4
			}
			l, err := r.uintN(w)
			if err != nil {
				return err
			}
			if l > uint64(len(r.b)) {
				return ErrShort
			}
			items = int(l)
			if c >= 0xde {
				items *= 2
			}
		default:
			return typeError("a value", c)
		}
		if _, err := r.next(n); err != nil {
			return err
		}
		pending += items
		if pending > len(r.b)+1 { // more values than bytes left: cannot be well formed
			return ErrShort
		}
	}
	return nil
}

package wire

import (
	"encoding/binary"
	"fmt"
)

// Bounds on the shape of any message, checked before it is decoded into a
// Go value. No Logbook message nests deeper than 4 levels or needs more
// entries in one array or map than an append has events, so these bounds
// only ever stop hostile input: without them, a few MiB of nested arrays
// exhaust the stack, and an array header claiming millions of nils makes the
// decoder allocate hundreds of MiB before any length check runs.
const (
	maxDepth        = 8
	maxContainerLen = 1 << 16
)

// checkShape walks one MessagePack value in b without allocating and returns
// the bytes after it. Maps must have string keys.
func checkShape(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("unexpected end of data")
	}
	c, b := b[0], b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return b, nil
	case c >= 0x80 && c <= 0x8f:
		return checkMap(b, int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return checkArray(b, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return skip(b, int(c&0x1f))
	}
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		return skipLen(b, 1, 0)
	case 0xc5, 0xda:
		return skipLen(b, 2, 0)
	case 0xc6, 0xdb:
		return skipLen(b, 4, 0)
	case 0xc7: // ext8: len, type, data
		return skipLen(b, 1, 1)
	case 0xc8:
		return skipLen(b, 2, 1)
	case 0xc9:
		return skipLen(b, 4, 1)
	case 0xcc, 0xd0:
		return skip(b, 1)
	case 0xcd, 0xd1:
		return skip(b, 2)
	case 0xca, 0xce, 0xd2:
		return skip(b, 4)
	case 0xcb, 0xcf, 0xd3:
		return skip(b, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (+ type byte)
		return skip(b, 1+(1<<(c-0xd4)))
	case 0xdc, 0xde:
		n, rest, err := readLen(b, 2)
		if err != nil {
			return nil, err
		}
		if c == 0xdc {
			return checkArray(rest, n, depth)
		}
		return checkMap(rest, n, depth)
	case 0xdd, 0xdf:
		n, rest, err := readLen(b, 4)
		if err != nil {
			return nil, err
		}
		if c == 0xdd {
			return checkArray(rest, n, depth)
		}
		return checkMap(rest, n, depth)
	}
	return nil, fmt.Errorf("invalid MessagePack code 0x%02x", c)
}

func checkArray(b []byte, n, depth int) ([]byte, error) {
	if n > maxContainerLen {
		return nil, fmt.Errorf("array of %d elements, more than %d", n, maxContainerLen)
	}
	var err error
	for range n {
		if b, err = checkShape(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func checkMap(b []byte, n, depth int) ([]byte, error) {
	if n > maxContainerLen {
		return nil, fmt.Errorf("map of %d entries, more than %d", n, maxContainerLen)
	}
	var err error
	for range n {
		if len(b) == 0 {
			return nil, fmt.Errorf("unexpected end of data")
		}
		if k := b[0]; !(k >= 0xa0 && k <= 0xbf) && k != 0xd9 && k != 0xda && k != 0xdb {
			return nil, fmt.Errorf("map key is not a string (code 0x%02x)", k)
		}
		if b, err = checkShape(b, depth+1); err != nil {
			return nil, err
		}
		if b, err = checkShape(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func readLen(b []byte, size int) (int, []byte, error) {
	if len(b) < size {
		return 0, nil, fmt.Errorf("unexpected end of data")
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b))
	case 4:
		n = uint64(binary.BigEndian.Uint32(b))
	}
	return int(n), b[size:], nil
}

// skipLen skips a length-prefixed payload (plus extra bytes, e.g. an ext type).
func skipLen(b []byte, size, extra int) ([]byte, error) {
	n, rest, err := readLen(b, size)
	if err != nil {
		return nil, err
	}
	return skip(rest, n+extra)
}

func skip(b []byte, n int) ([]byte, error) {
	if n < 0 || len(b) < n {
		return nil, fmt.Errorf("unexpected end of data")
	}
	return b[n:], nil
}

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

// shapeCheck walks one MessagePack value without allocating. Besides the
// shape bounds, it looks for the keys of nonEmpty holding the empty string:
// those keys list their values in the contract, "" is not one of them, and
// only leaving a key out selects its default. A present "" must be refused,
// yet decodes to the same Go string as an absent key; the walk, which reads
// every key anyway, is where the two still differ.
type shapeCheck struct {
	nonEmpty []string
	empty    int // 1 + the index in nonEmpty of the first key found holding "", or 0
}

// emptyKey returns the first key of nonEmpty found holding "", or "".
func (s *shapeCheck) emptyKey() string {
	if s.empty == 0 {
		return ""
	}
	return s.nonEmpty[s.empty-1]
}

// value checks one value in b and returns the bytes after it. Maps must have
// string keys.
func (s *shapeCheck) value(b []byte, depth int) ([]byte, error) {
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
		return s.mapEntries(b, int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return s.array(b, int(c&0x0f), depth)
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
	case 0xdc, 0xdd, 0xde, 0xdf: // array16, array32, map16, map32
		size := 2
		if c == 0xdd || c == 0xdf {
			size = 4
		}
		n, rest, err := readLen(b, size)
		if err != nil {
			return nil, err
		}
		if c <= 0xdd {
			return s.array(rest, n, depth)
		}
		return s.mapEntries(rest, n, depth)
	}
	return nil, fmt.Errorf("invalid MessagePack code 0x%02x", c)
}

func (s *shapeCheck) array(b []byte, n, depth int) ([]byte, error) {
	if n > maxContainerLen {
		return nil, fmt.Errorf("array of %d elements, more than %d", n, maxContainerLen)
	}
	var err error
	for range n {
		if b, err = s.value(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (s *shapeCheck) mapEntries(b []byte, n, depth int) ([]byte, error) {
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
		key := b
		if b, err = s.value(b, depth+1); err != nil {
			return nil, err
		}
		if len(s.nonEmpty) > 0 && s.empty == 0 && isEmptyString(b) {
			s.noteEmpty(strPayload(key))
		}
		if b, err = s.value(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// noteEmpty records key when it is one of nonEmpty.
func (s *shapeCheck) noteEmpty(key []byte) {
	for i, k := range s.nonEmpty {
		if string(key) == k {
			s.empty = i + 1
			return
		}
	}
}

// isEmptyString reports whether b starts with the empty string, in any of
// its encodings (fixstr, str8, str16, str32).
func isEmptyString(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case 0xa0:
		return true
	case 0xd9:
		return len(b) >= 2 && b[1] == 0
	case 0xda:
		return len(b) >= 3 && b[1]|b[2] == 0
	case 0xdb:
		return len(b) >= 5 && b[1]|b[2]|b[3]|b[4] == 0
	}
	return false
}

// strPayload returns the bytes of the string that b, a checked str value,
// starts with.
func strPayload(b []byte) []byte {
	var n, at int
	switch c := b[0]; c {
	case 0xd9:
		n, at = int(b[1]), 2
	case 0xda:
		n, at = int(binary.BigEndian.Uint16(b[1:])), 3
	case 0xdb:
		n, at = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		n, at = int(c&0x1f), 1
	}
	return b[at : at+n]
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

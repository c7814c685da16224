package msgp

import (
	"encoding/binary"
	"math"
)

// The Append functions write values as github.com/vmihailenco/msgpack
// writes them with compact integers (Encoder.UseCompactInts), byte for
// byte: the smallest header for each length, nil for a nil byte slice.

// AppendMapLen appends a map header for n pairs.
func AppendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendString appends s as a str.
func AppendString(b []byte, s string) []byte { return AppendStr(b, s) }

// AppendStr appends s, a string or bytes, as a str.
func AppendStr[S string | []byte](b []byte, s S) []byte {
	if len(s) < 32 {
		return append(append(b, 0xa0|byte(len(s))), s...)
	}
	return append(appendLen(b, len(s), 0xd9), s...)
}

// AppendBytes appends p as a bin, or nil if p is nil.
func AppendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0xc0)
	}
	return append(appendLen(b, len(p), 0xc4), p...)
}

// appendLen appends the header of a str or bin of n bytes: code8 (str 8 or
// bin 8) with a 1-byte length, the next code with 2 bytes, the next with 4.
func appendLen(b []byte, n int, code8 byte) []byte {
	switch {
	case n < 256:
		return append(b, code8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, code8+1), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, code8+2), uint32(n))
}

// AppendUint appends v in its most compact form.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// AppendInt appends v in its most compact form.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

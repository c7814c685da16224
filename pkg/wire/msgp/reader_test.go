package msgp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Skip reads past exactly one value of every kind the library writes, and
// every prefix of a value is ErrShort, never a panic or a wrong length.
func TestSkipEveryKind(t *testing.T) {
	values := []any{nil, true, false, 0, -1, -33, 200, -200, 70000, -70000, math.MaxUint32 + 1, int64(math.MinInt64), uint64(math.MaxUint64),
		float32(1.5), 2.5, "", "short", strings.Repeat("x", 40), strings.Repeat("y", 300), strings.Repeat("z", 70000),
		[]byte{}, []byte{1, 2}, bytes.Repeat([]byte{3}, 300), bytes.Repeat([]byte{4}, 70000),
		[]any{}, []any{1, "a", []any{nil}}, make([]int, 20), make([]int, 70000),
		map[string]any{}, map[string]any{"a": map[string]any{"b": []any{1}}}, bigMap(20), time.Unix(1, 5), time.Unix(1<<40, 0)}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(append(b, 0xc3))
		if err := r.Skip(); err != nil {
			t.Fatalf("%T %.20v: %v", v, v, err)
		}
		if rest := r.Rest(); len(rest) != 1 || rest[0] != 0xc3 {
			t.Fatalf("%T %.20v: %d bytes left, want the one after it", v, v, len(rest))
		}
		for n := range len(b) {
			if err := NewReader(b[:n]).Skip(); !errors.Is(err, ErrShort) {
				t.Fatalf("%T %.20v cut at %d of %d: %v", v, v, n, len(b), err)
			}
		}
	}
	if err := NewReader([]byte{0xc1}).Skip(); err == nil || errors.Is(err, ErrShort) {
		t.Fatalf("0xc1 (never used): %v", err)
	}
}

func bigMap(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[strings.Repeat("k", i+1)] = i
	}
	return m
}

// Integers of every width read back as the library wrote them.
func TestIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxInt32, math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt64} {
		for _, compact := range []bool{true, false} {
			var buf bytes.Buffer
			enc := msgpack.NewEncoder(&buf)
			enc.UseCompactInts(compact)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			got, err := NewReader(buf.Bytes()).Int()
			if err != nil || got != v {
				t.Fatalf("%d (compact %v, %x): %d %v", v, compact, buf.Bytes(), got, err)
			}
		}
	}
	if _, err := NewReader([]byte{0xa1, 'x'}).Int(); err == nil {
		t.Fatal("a string read as an integer")
	}
}

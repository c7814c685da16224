package wire

import (
	"errors"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
)

func TestDecodeClusterRequest(t *testing.T) {
	ok := [][]byte{nil, {0x80}}
	for _, b := range ok {
		if err := DecodeClusterRequest(b, Limits{}); err != nil {
			t.Errorf("%x: %v", b, err)
		}
	}
	bad := [][]byte{{0x81, 0xa1, 'x', 0x01}, {0xc1}, {0x91, 0x01}, {0xa3, 'a', 'b', 'c'}}
	for _, b := range bad {
		err := DecodeClusterRequest(b, Limits{})
		var e *codes.Error
		if !errors.As(err, &e) {
			t.Errorf("%x: got %v, want a typed error", b, err)
		}
	}
}

func FuzzDecodeClusterRequest(f *testing.F) {
	f.Add([]byte{0x80})
	f.Add([]byte{0x81, 0xa1, 'x', 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := DecodeClusterRequest(b, Limits{})
		var e *codes.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func TestDecodeRemoveNode(t *testing.T) {
	if r, err := DecodeRemoveNode([]byte{0x81, 0xa7, 'n', 'o', 'd', 'e', '_', 'i', 'd', 0x02}, Limits{}); err != nil || r.NodeID != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	bad := [][]byte{nil, {0x80}, {0x81, 0xa7, 'n', 'o', 'd', 'e', '_', 'i', 'd', 0x00}, {0x81, 0xa7, 'n', 'o', 'd', 'e', '_', 'i', 'd', 0xff}, {0x81, 0xa1, 'x', 0x01}}
	for _, b := range bad {
		_, err := DecodeRemoveNode(b, Limits{})
		var e *codes.Error
		if !errors.As(err, &e) {
			t.Errorf("%x: got %v, want a typed error", b, err)
		}
	}
}

func FuzzDecodeRemoveNode(f *testing.F) {
	f.Add([]byte{0x81, 0xa7, 'n', 'o', 'd', 'e', '_', 'i', 'd', 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRemoveNode(b, Limits{})
		var e *codes.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && r.NodeID == 0 {
			t.Fatal("node 0 accepted")
		}
	})
}

package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
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

func FuzzDecodeClusterVersion(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa4, 'h', 'o', 'l', 'd', 0xc3})
	f.Add([]byte{0x81, 0xa4, 'h', 'o', 'l', 'd', 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeClusterVersion(b, Limits{})
		var e *codes.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && r == nil {
			t.Fatal("no request and no error")
		}
	})
}

// A hold is a boolean; anything else is refused.
func TestDecodeClusterVersion(t *testing.T) {
	if r, err := DecodeClusterVersion(nil, Limits{}); err != nil || r.Hold != nil {
		t.Fatalf("empty: %+v %v", r, err)
	}
	if r, err := DecodeClusterVersion([]byte{0x81, 0xa4, 'h', 'o', 'l', 'd', 0xc3}, Limits{}); err != nil || r.Hold == nil || !*r.Hold {
		t.Fatalf("hold true: %+v %v", r, err)
	}
	for _, bad := range [][]byte{{0x81, 0xa4, 'h', 'o', 'l', 'd', 0x01}, {0x81, 0xa3, 'f', 'o', 'o', 0xc3}, {0xc1}} {
		if _, err := DecodeClusterVersion(bad, Limits{}); codes.As(err) == nil {
			t.Errorf("%x accepted", bad)
		}
	}
}

// The cluster view and health are also served as JSON (GET /cluster and
// /health on a storenode, lbctl --json): under the names of
// schemas/cluster.md, the MessagePack ones, never Go's field names.
func TestClusterJSONUsesSchemaNames(t *testing.T) {
	for _, v := range []any{ClusterView{}, ClusterNode{}, ClusterStore{}, ReplicaState{}, ReplicaMove{},
		Drift{}, DriftValue{}, ClusterHealth{}, RemoveNodeRequest{}, RemoveNodeReply{}, ClusterVersion{}, ClusterVersionRequest{}, ClusterVersionReply{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if mp, js := f.Tag.Get("msgpack"), f.Tag.Get("json"); mp == "" || js != mp {
				t.Errorf("%s.%s: json %q, msgpack %q", typ.Name(), f.Name, js, mp)
			}
		}
	}
	b, err := json.Marshal(ClusterView{MetaLeader: 2, Nodes: []ClusterNode{{ID: 1, RaftAddress: "h:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"meta_leader":2`, `"raft_address":"h:1"`, `"last_seen_ms":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}

package wire_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// opConstants returns the values of the Op* constants of pkg/subjects, read
// from its source: the names of the store operations.
func opConstants(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../subjects/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no source of pkg/subjects: %v", err)
	}
	ops := map[string]string{} // value → constant name
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Op") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("subjects.%s is not a string literal", name.Name)
					}
					v, _ := strconv.Unquote(lit.Value)
					if other, dup := ops[v]; dup {
						t.Errorf("subjects.%s and subjects.%s are both %q", other, name.Name, v)
					}
					ops[v] = name.Name
				}
			}
		}
	}
	if len(ops) == 0 {
		t.Fatal("no Op* constants in pkg/subjects")
	}
	return ops
}

// Every operation constant has its entry in the table, and every entry is an
// operation constant (a key written twice does not compile).
func TestStoreOpsCoverEveryOperation(t *testing.T) {
	consts := opConstants(t)
	for v, name := range consts {
		if _, ok := wire.StoreOps[v]; !ok {
			t.Errorf("subjects.%s (%q) has no entry in wire.StoreOps", name, v)
		}
	}
	for op, o := range wire.StoreOps {
		if _, ok := consts[op]; !ok {
			t.Errorf("wire.StoreOps[%q] is not a subjects.Op* constant", op)
		}
		if o.Decode == nil {
			t.Errorf("wire.StoreOps[%q] has no decoder", op)
		}
	}
	if names := wire.StoreOpNames(); !slices.IsSorted(names) || !slices.Equal(names, slices.Sorted(maps.Keys(wire.StoreOps))) {
		t.Errorf("StoreOpNames() = %v", names)
	}
}

// Every decoder of the table refuses garbage with a typed, bounded error.
func TestStoreOpsRejectGarbage(t *testing.T) {
	garbage := map[string][]byte{
		"empty":        nil,
		"reserved":     {0xc1},
		"string":       pack(t, "append"),
		"array":        pack(t, []any{"s", 1}),
		"truncated":    {0x82, 0xa1, 'a'},
		"trailing":     {0x80, 0x80},
		"unknown key":  pack(t, kv{strings.Repeat("\x01", 100_000): 1}),
		"non-str key":  {0x81, 0x01, 0x02},
		"too large":    make([]byte, wire.DefaultLimits().MaxRequestSize+1),
		"nested deep":  append(append([]byte{0x81, 0xa1, 'x'}, slices.Repeat([]byte{0x91}, 20)...), 0xc0),
		"wrong types":  pack(t, kv{"stream": 1, "subscription": 2}),
		"empty string": pack(t, kv{"stream": "", "subscription": ""}),
	}
	for _, op := range wire.StoreOpNames() {
		for name, data := range garbage {
			err := wire.DecodeRequest(op, data, wire.DefaultLimits())
			e := codes.As(err)
			switch {
			case e == nil:
				t.Errorf("%s, %s: error %v is not a *codes.Error", op, name, err)
			case !e.Code.Defined() || int(e.Code)/100 != 400 && int(e.Code)/100 != 413:
				t.Errorf("%s, %s: code %d (%s) is not a 400 or 413 code", op, name, int(e.Code), e.Code.Name())
			case len(e.Message) > maxDecodeMessage:
				t.Errorf("%s, %s: message of %d bytes", op, name, len(e.Message))
			}
		}
	}
	err := wire.DecodeRequest(strings.Repeat("x", 100_000), []byte{0x80}, wire.DefaultLimits())
	if e := codes.As(err); e == nil || e.Code != codes.UnknownOperation || len(e.Message) > maxDecodeMessage+len(strings.Join(wire.StoreOpNames(), " ")) {
		t.Errorf("an unknown operation: %v", err)
	}
}

// Resendable is the set the client documents (WithAttemptTimeout): appends,
// which are deduplicated by event id, deletes, which are idempotent, and
// reads (of streams, snapshots and subscriptions); backup and restore,
// whose requests name their chunk or step by a sequence number the server
// answers again without effect. Snapshot and subscription writes are not
// resent.
func TestStoreOpsResendable(t *testing.T) {
	want := []string{"append", "backup", "delete_stream", "list_streams", "psub_info", "psub_list", "psub_parked", "read", "read_all", "restore", "snapshot_list", "snapshot_read", "stream_info"}
	var got []string
	for _, op := range wire.StoreOpNames() {
		if wire.StoreOps[op].Resendable {
			got = append(got, op)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("resendable operations %v, want %v", got, want)
	}
}

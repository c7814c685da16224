package sm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// opConst is an op constant as declared: its value and its file.
type opConst struct {
	value uint8
	file  string
}

// opConstants returns every Op* constant declared in the package's
// non-test files, by name.
func opConstants(t *testing.T) map[string]opConst {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]opConst{}
	fset := token.NewFileSet()
	for _, name := range slices.DeleteFunc(files, func(n string) bool { return strings.HasSuffix(n, "_test.go") }) {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Op") {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: %s is not a literal number", name, id.Name)
					}
					v, err := strconv.ParseUint(lit.Value, 0, 8)
					if err != nil {
						t.Fatalf("%s: %s: %v", name, id.Name, err)
					}
					out[id.Name] = opConst{uint8(v), name}
				}
			}
		}
	}
	return out
}

// Every op constant has exactly one entry in the table, declared beside
// it, and the table has no entry without a constant.
func TestOpTableListsEveryOp(t *testing.T) {
	consts := opConstants(t)
	if len(consts) == 0 {
		t.Fatal("no op constants found")
	}
	byValue := map[uint8]string{}
	for name, c := range consts {
		if c.file != "ops.go" {
			t.Errorf("%s is declared in %s, not beside the table in ops.go", name, c.file)
		}
		if other, dup := byValue[c.value]; dup {
			t.Errorf("%s and %s are both op %d", name, other, c.value)
		}
		byValue[c.value] = name
		if ops[c.value] == nil {
			t.Errorf("%s (op %d) has no entry in the table", name, c.value)
		}
	}
	for op, fn := range ops {
		if fn != nil && byValue[uint8(op)] == "" {
			t.Errorf("the table has an entry for op %d, which has no constant", op)
		}
	}
	// The numbers are in the Raft log: they never change.
	want := map[uint8]uint8{
		OpAppend: 1, OpDelete: 2, OpSetQuota: 3, OpSnapshotSave: 16, OpSnapshotDelete: 17,
		OpPSubCreate: 24, OpPSubUpdate: 25, OpPSubDelete: 26, OpPSubProgress: 27, OpRestore: 32,
	}
	for got, w := range want {
		if got != w {
			t.Errorf("an op moved from %d to %d", w, got)
		}
	}
	if len(want) != len(consts) {
		t.Errorf("%d op constants, %d pinned here: pin the new one's number", len(consts), len(want))
	}
}

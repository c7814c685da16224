package tests

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// The chaos test's model must reject what a broken store would do; these
// histories are checked without any cluster.
func TestChaosModelRejectsBrokenHistories(t *testing.T) {
	m := streamModel.ToModel()
	ap := func(c int, exp int64, ids []string, call, ret int64, out chOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: chInput{Append: true, Stream: "s", Expected: exp, IDs: ids}, Call: call, Output: out, Return: ret}
	}
	rd := func(c int, call, ret int64, ids ...string) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: chInput{Stream: "s"}, Call: call, Output: chOutput{Kind: outRead, Read: ids}, Return: ret}
	}
	ok := func(first uint64) chOutput { return chOutput{Kind: outOK, First: first} }
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential appends and a read", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1, ok(0)), ap(1, 0, []string{"b"}, 2, 3, ok(1)), rd(2, 4, 5, "a", "b"),
		}, porcupine.Ok},
		{"a lost acknowledged append", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1, ok(0)), rd(2, 4, 5),
		}, porcupine.Illegal},
		{"two winners at one revision", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 3, ok(0)), ap(1, -1, []string{"b"}, 0, 3, ok(0)),
		}, porcupine.Illegal},
		{"a stale read after an acknowledged append", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1, ok(0)), ap(0, 0, []string{"b"}, 2, 3, ok(1)), rd(1, 4, 5, "a"),
		}, porcupine.Illegal},
		{"a duplicate written twice", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1, chOutput{Kind: outUnknown}), ap(0, -1, []string{"a"}, 2, 3, ok(0)), rd(1, 4, 5, "a", "a"),
		}, porcupine.Illegal},
		{"an unknown outcome that did land, retried idempotently", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1<<62, chOutput{Kind: outUnknown}), ap(0, -1, []string{"a"}, 2, 3, ok(0)), rd(1, 4, 5, "a"),
		}, porcupine.Ok},
		{"a conflict naming the wrong revision", []porcupine.Operation{
			ap(0, -1, []string{"a"}, 0, 1, ok(0)), ap(1, -1, []string{"b"}, 2, 3, chOutput{Kind: outConflict, Current: 5}),
		}, porcupine.Illegal},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperationsTimeout(m, c.ops, 0); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

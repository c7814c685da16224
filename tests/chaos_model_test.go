package tests

import (
	"testing"
	"time"

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

// The pause measure charges a fault with the longest stretch without an
// acknowledgement that overlaps its window, counted from the fault's start.
func TestChaosPauseMeasure(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	d := func(x int) time.Duration { return time.Duration(x) * time.Millisecond }
	acks := ms(0, 10, 20, 1000, 1010, 1020, 5000, 5010, 9000)
	cases := []struct {
		name           string
		from, to, want int
	}{
		{"a stall starting before the fault counts from the fault's start or the last ack", 15, 500, 980},
		{"acks flowing in the window: the normal gap", 1005, 1020, 10},
		{"a stall still open at the window's end counts whole", 1015, 2000, 3980},
		{"a stretch begun in the window, ended after it", 5005, 6000, 3990},
		{"a window before every ack", -100, -50, 0},
	}
	for _, c := range cases {
		if got := pauseIn(acks, d(c.from), d(c.to), d(9500)); got != d(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, d(c.want))
		}
	}
	if got := pauseIn(ms(9000), d(9100), d(9200), d(9500)); got != d(400) {
		t.Errorf("no ack after the fault: %s, want the stretch to the end of the load (400ms)", got)
	}
	f := []fault{{kind: "kill9", node: 2, start: d(15), end: d(15), leaders: map[string]uint64{"a": 2, "b": 1}}}
	if got := calmPause(acks, f); got != d(3990) {
		t.Errorf("calm pause: %s, want 3.99s (5010→9000; 1020→5000 overlaps the window up to 3.015s)", got)
	}
	if f[0].kindFor("a") != "kill9-leader" || f[0].kindFor("b") != "kill9-follower" {
		t.Errorf("kinds %s %s", f[0].kindFor("a"), f[0].kindFor("b"))
	}
}

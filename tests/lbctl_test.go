package tests

import (
	"strings"
	"testing"
	"time"
)

// lbctl's stream, snapshot and persistent-subscription commands against a
// real Logbook, in text and in --json.
func TestLbctlCommands(t *testing.T) {
	in := startForLbctl(t)

	wantContains(t, "append", lbctl(t, in, "append", "--expect", "no_stream", "order-1", "OrderPlaced", `{"sku":"abc"}`),
		"appended order-1 revision 0 at position 0")
	app := lbctlJSON(t, in, "append", "order-1", "OrderPaid", `{"amount":12}`)
	if app["first_revision"] != 1.0 || app["first_position"] != 1.0 {
		t.Errorf("append --json: %v", app)
	}
	lbctl(t, in, "append", "other", "Note", "plain text", "--content-type", "text/plain")

	wantContains(t, "read", lbctl(t, in, "read", "order-1"),
		`#0 order-1@0 OrderPlaced`, `{"sku":"abc"}`, `#1 order-1@1 OrderPaid`, "-- last revision 1, end of stream: true, next: 2")
	read := lbctlJSON(t, in, "read", "order-1")
	evs, _ := read["events"].([]any)
	if len(evs) != 2 || read["next_revision"] != 2.0 || read["end_of_stream"] != true {
		t.Fatalf("read --json: %v", read)
	}
	first := evs[0].(map[string]any)
	if d, _ := first["data"].(map[string]any); first["stream"] != "order-1" || first["type"] != "OrderPlaced" || d["sku"] != "abc" {
		t.Errorf("read --json, first event: %v (data should be its JSON value)", first)
	}
	all := lbctlJSON(t, in, "read-all", "--type", "Note")
	if evs, _ := all["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["data"] != "cGxhaW4gdGV4dA==" {
		t.Errorf("read-all --json: %v (text/plain data is base64)", all)
	}
	wantContains(t, "info", lbctl(t, in, "info", "order-1"), "stream order-1", "last revision 1", "events 2")

	// Snapshots.
	wantContains(t, "snapshots save", lbctl(t, in, "snapshots", "save", "order-1", "1", "OrderState", `{"total":12}`),
		"saved snapshot of order-1 at version 1")
	if s := lbctlJSON(t, in, "snapshots", "save", "order-1", "0", "OrderState", `{"total":0}`); s["version"] != 0.0 || s["stream"] != "order-1" {
		t.Errorf("snapshots save --json: %v", s)
	}
	wantContains(t, "snapshots read", lbctl(t, in, "snapshots", "read", "order-1"), "snapshot of order-1 at version 1", `{"total":12}`)
	if s := lbctlJSON(t, in, "snapshots", "read", "order-1", "--max-version", "0"); s["version"] != 0.0 || s["data"].(map[string]any)["total"] != 0.0 {
		t.Errorf("snapshots read --json: %v", s)
	}
	wantContains(t, "snapshots list", lbctl(t, in, "snapshots", "list", "order-1"), "version 0  OrderState", "version 1  OrderState")
	if l := lbctlJSON(t, in, "snapshots", "list", "order-1"); len(l["snapshots"].([]any)) != 2 {
		t.Errorf("snapshots list --json: %v", l)
	}
	wantContains(t, "snapshots delete", lbctl(t, in, "snapshots", "delete", "order-1", "0"), "deleted 1 snapshot(s) of order-1")
	if d := lbctlJSON(t, in, "snapshots", "delete", "--all", "order-1"); d["deleted"] != 1.0 {
		t.Errorf("snapshots delete --all --json: %v", d)
	}
	if _, stderr, err := lbctlRun(t, in, "snapshots", "read", "order-1"); err == nil || !strings.Contains(stderr, "snapshot_not_found") {
		t.Errorf("snapshots read after delete: %v %s", err, stderr)
	}

	// Persistent subscriptions.
	wantContains(t, "psub create", lbctl(t, in, "psub", "create", "billing", "--category", "order", "--type", "OrderPaid", "--max-retries", "3"),
		"created subscription billing", "category order, types OrderPaid", "max_retries 3")
	if c := lbctlJSON(t, in, "psub", "create", "billing", "--category", "order", "--type", "OrderPaid", "--max-retries", "3"); c["existed"] != true {
		t.Errorf("psub create again --json: %v", c)
	}
	lbctl(t, in, "psub", "create", "audit", "--from", "end")
	wantContains(t, "psub list", lbctl(t, in, "psub", "list"), "SUBSCRIPTION", "billing", "audit")
	if l := lbctlJSON(t, in, "psub", "list"); len(l["subscriptions"].([]any)) != 2 {
		t.Errorf("psub list --json: %v", l)
	}
	wantContains(t, "psub info", lbctl(t, in, "psub", "info", "audit"), "subscription audit", "start        3")
	info := lbctlJSON(t, in, "psub", "info", "billing")
	if f, _ := info["filter"].(map[string]any); f["category"] != "order" || info["settings"].(map[string]any)["max_retries"] != 3.0 {
		t.Errorf("psub info --json: %v", info)
	}
	wantContains(t, "psub parked", lbctl(t, in, "psub", "parked", "billing"), "no parked events in billing")
	wantContains(t, "psub replay", lbctl(t, in, "psub", "replay", "billing"), "replaying 0 parked event(s)")
	wantContains(t, "psub delete", lbctl(t, in, "psub", "delete", "audit"), "deleted subscription audit")
	if d := lbctlJSON(t, in, "psub", "delete", "billing"); d["deleted"] != true {
		t.Errorf("psub delete --json: %v", d)
	}
	if _, stderr, err := lbctlRun(t, in, "psub", "info", "billing"); err == nil || !strings.Contains(stderr, "subscription_not_found") {
		t.Errorf("psub info after delete: %v %s", err, stderr)
	}
}

// lbctl tail prints live events matching its filter and stops after
// --count; subscribe delivers the history from --from, then live events.
func TestLbctlTailAndSubscribe(t *testing.T) {
	in := startForLbctl(t)
	appendEvent(t, in, "order-1", "OrderPlaced", `{"n":0}`)
	appendEvent(t, in, "order-1", "OrderPaid", `{"n":1}`)

	tail := startLbctl(t, in, "tailing events.default.order.>", "tail", "--category", "order", "--count", "2", "--json")
	tailText := startLbctl(t, in, "tailing", "tail", "--type", "OrderPaid", "--count", "1")
	appendEvent(t, in, "other-1", "OrderPaid", `{"n":2}`) // not of category order
	appendEvent(t, in, "order-2", "OrderPlaced", `{"n":3}`)
	appendEvent(t, in, "order-2", "OrderPaid", `{"n":4}`)
	lines := jsonLines(t, tail.wait(t))
	if len(lines) != 2 || lines[0]["stream"] != "order-2" || lines[0]["position"] != 3.0 || lines[1]["type"] != "OrderPaid" ||
		lines[1]["data"].(map[string]any)["n"] != 4.0 {
		t.Errorf("tail --category order --count 2 --json: %v", lines)
	}
	if out := tailText.wait(t); !strings.HasPrefix(out, "#2 other-1@0 OrderPaid") || strings.Count(out, "\n") != 1 {
		t.Errorf("tail --type OrderPaid --count 1: %q", out)
	}

	// History from position 1, then a live event.
	sub := startLbctl(t, in, "caught up", "subscribe", "--from", "1", "--count", "4", "--category", "order")
	appendEvent(t, in, "order-3", "OrderPlaced", `{"n":5}`)
	out := sub.wait(t)
	want := []string{"#1 order-1@1 OrderPaid", "#3 order-2@0 OrderPlaced", "#4 order-2@1 OrderPaid", "#5 order-3@0 OrderPlaced"}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(want) {
		t.Fatalf("subscribe --from 1 --category order: %q", out)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("subscribe line %d: %q, want %q…", i, got[i], want[i])
		}
	}
	// --count with the history alone, in JSON.
	out = lbctl(t, in, "subscribe", "--from", "0", "--count", "3", "--json")
	if l := jsonLines(t, out); len(l) != 3 || l[0]["position"] != 0.0 || l[2]["position"] != 2.0 {
		t.Errorf("subscribe --from 0 --count 3 --json: %v", l)
	}
	// --for ends a quiet tail.
	start := time.Now()
	if out := lbctl(t, in, "tail", "--stream", "nothing-here", "--for", "300ms"); out != "" || time.Since(start) > 20*time.Second {
		t.Errorf("tail --for 300ms: %q after %v", out, time.Since(start))
	}
}

package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
)

func TestWireJSON(t *testing.T) {
	ev := client.RecordedEvent{Stream: "order-1", Type: "T", Position: 7,
		Data: []byte(`{"a":1}`), DataContentType: "application/vnd.x+json",
		Metadata: []byte("not json"), MetadataContentType: "application/json"}
	j, err := wireJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"data":{"a":1}`, `"metadata":"bm90IGpzb24="`, `"position":7`, `"stream":"order-1"`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("wireJSON: no %s in %s", want, j)
		}
	}
	ev.DataContentType = "text/plain"
	ev.Data = []byte(`123`)
	if j, _ := wireJSON(ev); !strings.Contains(string(j), `"data":"MTIz"`) {
		t.Errorf("data of a non-JSON type is not base64: %s", j)
	}
}

func TestTailSubject(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		cat, stream, typ, want string
	}{
		{"", "", "", "events.default.>"},
		{"order", "", "", "events.default.order.>"},
		{"order", "", "Paid", "events.default.order.*.Paid"},
		{"", "order-1", "", "events.default.order.order-1.*"},
		{"", "order-1", "Paid", "events.default.order.order-1.Paid"},
		{"", "", "a.b", "events.default.*.*.a~2Eb"},
	} {
		got, err := tailSubject("default", &liveFlags{category: s(c.cat), stream: s(c.stream), typ: s(c.typ)})
		if err != nil || got != c.want {
			t.Errorf("tailSubject(%q, %q, %q) = %q, %v; want %q", c.cat, c.stream, c.typ, got, err, c.want)
		}
	}
	if _, err := tailSubject("default", &liveFlags{category: s("a"), stream: s("a-1"), typ: s("")}); err == nil {
		t.Error("--category with --stream accepted")
	}
}

func TestParseArgs(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	n := fs.Int("n", 0, "")
	d := fs.Duration("for", 0, "")
	args, err := parseArgs(fs, []string{"a", "-n", "3", "b", "--for", "1s", "--", "-c"}, 2, 3)
	if err != nil || strings.Join(args, " ") != "a b -c" || *n != 3 || *d != time.Second {
		t.Fatalf("parseArgs: %v %v n=%d for=%v", args, err, *n, *d)
	}
	if _, err := parseArgs(fs, []string{"a"}, 2, 3); err == nil {
		t.Error("too few arguments accepted")
	}
}

func TestHelpNeedsNoServer(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--server", "nats://127.0.0.1:1", "psub", "help"}, {"snapshots", "--help"}} {
		if err := run(args); err != nil {
			t.Errorf("lbctl %v: %v", args, err)
		}
	}
	if err := run([]string{"psub"}); err == nil {
		t.Error("lbctl psub without a command succeeded")
	}
}

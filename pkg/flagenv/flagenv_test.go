package flagenv

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"
)

func TestNewLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("ready", "store", "default")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json format wrote %q: %v", buf.String(), err)
	}
	if line["msg"] != "ready" || line["store"] != "default" || line["level"] != "INFO" {
		t.Fatalf("json line %v", line)
	}
	buf.Reset()
	if l, err = NewLogger(&buf, "warn", "text"); err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if got := buf.String(); !strings.Contains(got, "level=WARN msg=shown") || strings.Contains(got, "hidden") {
		t.Fatalf("text format wrote %q", got)
	}
	for _, bad := range [][2]string{{"loud", "text"}, {"info", "xml"}} {
		if _, err := NewLogger(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("NewLogger(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestLoggerFlags(t *testing.T) {
	t.Setenv("LOGBOOK_LOG_FORMAT", "json")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	build := Logger(fs)
	if err := fs.Parse([]string{"-log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if f := fs.Lookup("log-format"); f == nil || f.Value.String() != "json" {
		t.Fatalf("-log-format from LOGBOOK_LOG_FORMAT: %v", f)
	}
	if _, err := build(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-log-format", "yaml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := build(); err == nil {
		t.Fatal("-log-format yaml accepted")
	}
}

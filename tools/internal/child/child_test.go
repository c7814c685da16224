package child

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStartWaitReadyStop(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs sh")
	}
	t.Setenv("LOGBOOK_SECRET", "x")
	t.Setenv("CHILD_DROP_ME", "x")
	dir := t.TempDir()
	script := `echo "$LOGBOOK_SECRET-$CHILD_DROP_ME-$CHILD_ADDED" >&2; echo starting; echo "ready at nats://here"; exec sleep 60`
	p, err := Start(Spec{
		Name: "sh", Bin: "sh", Args: []string{"-c", script},
		Env: []string{"CHILD_ADDED=yes"}, DropEnv: []string{"CHILD_DROP_"},
		LogPath: filepath.Join(dir, "sh.log"),
		Ready: func(line string) (string, bool) {
			url, ok := strings.CutPrefix(line, "ready at ")
			return url, ok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	url, d, err := p.WaitReady(context.Background(), 10*time.Second)
	if err != nil || url != "nats://here" || d <= 0 {
		t.Fatalf("WaitReady: %q %s %v", url, d, err)
	}
	if !p.Alive() {
		t.Fatal("not alive after ready")
	}
	if killed := p.Stop(10 * time.Second); killed || p.Alive() {
		t.Fatalf("Stop: killed %v, alive %v", killed, p.Alive())
	}
	p.Stop(time.Second) // again: nothing to do
	log := Tail(p.LogPath, 10)
	// The child saw neither LOGBOOK_* nor the dropped variable, but the added one.
	for _, want := range []string{"--yes", "stdout: starting", "stdout: ready at nats://here"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %q", log, want)
		}
	}
}

func TestWaitReadyReportsEarlyExit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs sh")
	}
	dir := t.TempDir()
	p, err := Start(Spec{Name: "quitter", Bin: "sh", Args: []string{"-c", "echo it failed >&2; exit 3"},
		LogPath: filepath.Join(dir, "q.log"), Ready: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.WaitReady(context.Background(), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "quitter exited before it was ready") || !strings.Contains(err.Error(), "it failed") {
		t.Fatalf("WaitReady: %v", err)
	}
	if p.Err() == nil {
		t.Fatal("exit status 3 reported as success")
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 2); got != "  b\n  c" {
		t.Fatalf("Tail = %q", got)
	}
}

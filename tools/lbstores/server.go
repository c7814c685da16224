package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logbookdb/logbook/tools/internal/child"
)

// logbookPkg is the package of the logbook binary, built from the workspace.
const logbookPkg = "github.com/logbookdb/logbook/services/logbook"

// binaryVersion describes the binary from its build info: the commit it was
// built from (vcs.revision, "+dirty" when vcs.modified) and its CGO setting.
func binaryVersion(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown"
	}
	rev, dirty, cgo := "no vcs info", "", "?"
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		case "CGO_ENABLED":
			cgo = s.Value
		}
	}
	return fmt.Sprintf("%s%s, %s, CGO_ENABLED=%s", rev, dirty, bi.GoVersion, cgo)
}

// sourceRevision is the workspace's git commit, with "+modified" when the
// product code (pkg, services) differs from it; for builds without VCS
// stamping (-buildvcs=false). Read-only git commands; "" outside git.
func sourceRevision(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if exec.CommandContext(ctx, "git", "diff", "--quiet", "HEAD", "--", "pkg", "services").Run() != nil {
		rev += "+modified"
	}
	return rev
}

// serverConfig is how every start of the server is run; the data directory
// and Raft address stay the same across restarts.
type serverConfig struct {
	bin       string
	dataDir   string
	raftAddr  string
	maxStores int
	logLevel  string
	httpAddr  string   // -http: /metrics, read for the dormant stores
	extra     []string // more flags (-hibernate-after)
	verbose   bool     // copy the server's stderr to ours
}

// server is one run of the logbook binary in a child process.
type server struct {
	*child.Proc

	mu       sync.Mutex
	stopping bool
}

var readyLine = regexp.MustCompile(`Logbook is ready\. NATS URL: (\S+)`)

// startServer starts the binary; its output goes to logPath (appended).
// WaitReady returns the NATS URL the server prints once it is ready.
func startServer(cfg serverConfig, logPath string) (*server, error) {
	args := []string{
		"-data", cfg.dataDir,
		"-nats-host", "127.0.0.1",
		"-nats-port", "-1",
		"-raft-addr", cfg.raftAddr,
		"-max-stores", strconv.Itoa(cfg.maxStores), "-max-replicas", strconv.Itoa(cfg.maxStores),
		"-log-level", cfg.logLevel,
	}
	if cfg.httpAddr != "" {
		args = append(args, "-http", cfg.httpAddr)
	}
	args = append(args, cfg.extra...)
	spec := child.Spec{Name: "server", Bin: cfg.bin, Args: args, LogPath: logPath, Ready: func(line string) (string, bool) {
		if m := readyLine.FindStringSubmatch(line); m != nil {
			return m[1], true
		}
		return "", false
	}}
	if cfg.verbose {
		spec.Stderr = os.Stderr
	}
	p, err := child.Start(spec)
	if err != nil {
		return nil, err
	}
	return &server{Proc: p}, nil
}

// stop sends SIGTERM and waits up to grace for the process to exit; then it
// kills it. It returns how long the shutdown took and whether it was clean.
func (s *server) stop(grace time.Duration) (time.Duration, error) {
	if !s.Alive() {
		return 0, fmt.Errorf("server had already exited: %v", s.Err())
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	t0 := time.Now()
	killed := s.Stop(grace)
	d := time.Since(t0)
	switch {
	case killed:
		return d, fmt.Errorf("server still running %s after SIGTERM: killed", grace)
	case s.Err() != nil:
		return d, fmt.Errorf("server exited with %v after SIGTERM; its log ends:\n%s", s.Err(), child.Tail(s.LogPath, 10))
	}
	return d, nil
}

// kill kills the process if it still runs and waits for it. Safe to call
// at any time, any number of times.
func (s *server) kill() {
	if s != nil {
		s.Kill()
	}
}

// exitedUnexpectedly returns an error if the process exited without stop.
func (s *server) exitedUnexpectedly() error {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping || s.Alive() {
		return nil
	}
	return fmt.Errorf("server (pid %d) exited unexpectedly: %v; its log ends:\n%s", s.PID, s.Err(), child.Tail(s.LogPath, 15))
}

// logSummary counts the WARN and ERROR lines of a server log and keeps a few
// distinct messages of each.
type logSummary struct {
	Name     string   `json:"name,omitempty"` // the process, in cluster mode
	Warnings int      `json:"warnings"`
	Errors   int      `json:"errors"`
	Samples  []string `json:"samples,omitempty"`
}

var msgField = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)`)

func summarizeLog(path string) logSummary {
	var ls logSummary
	f, err := os.Open(path)
	if err != nil {
		return ls
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var level string
		switch {
		case strings.Contains(line, "level=WARN"):
			ls.Warnings++
			level = "WARN"
		case strings.Contains(line, "level=ERROR"):
			ls.Errors++
			level = "ERROR"
		default:
			continue
		}
		msg := line
		if m := msgField.FindStringSubmatch(line); m != nil {
			msg = m[1]
		}
		key := level + " " + msg
		if !seen[key] && len(ls.Samples) < 8 {
			seen[key] = true
			ls.Samples = append(ls.Samples, key)
		}
	}
	return ls
}

package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logbookPkg is the package of the logbook binary, built from the workspace.
const logbookPkg = "github.com/logbookdb/logbook/services/logbook"

// buildLogbook builds the logbook binary into dir, the way `task build`
// does (CGO_ENABLED=0 unless the environment says otherwise).
func buildLogbook(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "logbook")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, logbookPkg)
	cmd.Env = os.Environ()
	if os.Getenv("CGO_ENABLED") == "" {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s (run from the repository, where go.work is, or pass -bin): %w\n%s", logbookPkg, err, out)
	}
	return bin, nil
}

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
	verbose   bool // copy the server's stderr to ours
}

// server is one run of the logbook binary in a child process.
type server struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	logPath string

	ready   chan string // the NATS URL, once "Logbook is ready" is printed
	exited  chan struct{}
	waitErr error // set before exited is closed

	mu       sync.Mutex
	readyAt  time.Time
	stopping bool
}

var readyLine = regexp.MustCompile(`Logbook is ready\. NATS URL: (\S+)`)

// startServer starts the binary; its stderr goes to logPath (appended).
func startServer(cfg serverConfig, logPath string) (*server, error) {
	args := []string{
		"-data", cfg.dataDir,
		"-nats-host", "127.0.0.1",
		"-nats-port", "-1",
		"-raft-addr", cfg.raftAddr,
		"-max-stores", strconv.Itoa(cfg.maxStores),
		"-log-level", cfg.logLevel,
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.bin, args...)
	// The server must not see a LOGBOOK_* variable meant for something else.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGBOOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if cfg.verbose {
		cmd.Stderr = io.MultiWriter(logf, os.Stderr)
	} else {
		cmd.Stderr = logf
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	dieWithParent(cmd)
	s := &server{cmd: cmd, logPath: logPath, ready: make(chan string, 1), exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.bin, err)
	}
	s.pid = cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				s.mu.Lock()
				s.readyAt = time.Now()
				s.mu.Unlock()
				select {
				case s.ready <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	return s, nil
}

// waitReady waits for the ready line and returns the NATS URL and how long
// the server took from exec to ready.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) (string, time.Duration, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case url := <-s.ready:
		s.mu.Lock()
		d := s.readyAt.Sub(s.started)
		s.mu.Unlock()
		return url, d, nil
	case <-s.exited:
		return "", time.Since(s.started), fmt.Errorf("server exited before it was ready (%v) after %s; its log ends:\n%s",
			s.waitErr, time.Since(s.started).Round(time.Millisecond), tail(s.logPath, 15))
	case <-t.C:
		return "", timeout, fmt.Errorf("server not ready after %s (pid %d); its log ends:\n%s", timeout, s.pid, tail(s.logPath, 15))
	case <-ctx.Done():
		return "", time.Since(s.started), ctx.Err()
	}
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit; then it
// kills it. It returns how long the shutdown took and whether it was clean.
func (s *server) stop(grace time.Duration) (time.Duration, error) {
	if !s.alive() {
		return 0, fmt.Errorf("server had already exited: %v", s.waitErr)
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	t0 := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-s.exited:
		d := time.Since(t0)
		if s.waitErr != nil {
			return d, fmt.Errorf("server exited with %v after SIGTERM; its log ends:\n%s", s.waitErr, tail(s.logPath, 10))
		}
		return d, nil
	case <-time.After(grace):
		s.kill()
		return time.Since(t0), fmt.Errorf("server still running %s after SIGTERM: killed", grace)
	}
}

// kill kills the process if it still runs and waits for it. Safe to call
// at any time, any number of times.
func (s *server) kill() {
	if s == nil || !s.alive() {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
}

// exitedUnexpectedly returns an error if the process exited without stop.
func (s *server) exitedUnexpectedly() error {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping || s.alive() {
		return nil
	}
	return fmt.Errorf("server (pid %d) exited unexpectedly: %v; its log ends:\n%s", s.pid, s.waitErr, tail(s.logPath, 15))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// logSummary counts the WARN and ERROR lines of a server log and keeps a few
// distinct messages of each.
type logSummary struct {
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

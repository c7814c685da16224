// Package child runs the server processes of Logbook's load tools (lbcluster,
// lbstores): a child's stderr, and its stdout lines, go to a log file; its
// stdout is watched for the line that says it serves; it is stopped by its
// PID only, and the kernel kills it should the tool die first (Linux).
package child

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Spec is how to start a child.
type Spec struct {
	Name    string // in messages
	Bin     string
	Args    []string
	Env     []string // KEY=VALUE, added to this process's environment
	DropEnv []string // prefixes of variables of ours the child must not see; LOGBOOK_ always
	LogPath string   // appended to
	Stderr  io.Writer
	// Ready tells the stdout line that says the child serves, and what of it
	// WaitReady returns.
	Ready func(line string) (string, bool)
}

// Proc is a running (or exited) child.
type Proc struct {
	Name    string
	PID     int
	LogPath string
	Started time.Time

	cmd     *exec.Cmd
	ready   chan readyLine
	exited  chan struct{}
	waitErr error // set before exited is closed
}

type readyLine struct {
	kept string
	at   time.Time
}

// Start starts the child; it does not wait for it to be ready.
func Start(s Spec) (*Proc, error) {
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Bin, s.Args...)
	drop := append([]string{"LOGBOOK_"}, s.DropEnv...)
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, drop) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, s.Env...)
	cmd.Stderr = logf
	if s.Stderr != nil {
		cmd.Stderr = io.MultiWriter(logf, s.Stderr)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	dieWithParent(cmd)
	p := &Proc{Name: s.Name, LogPath: s.LogPath, cmd: cmd, ready: make(chan readyLine, 1), exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p.PID = cmd.Process.Pid
	go func() { // ends when the child closes stdout (exits)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, "stdout:", line)
			if kept, ok := s.Ready(line); ok {
				select {
				case p.ready <- readyLine{kept, time.Now()}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { // ends when the child exits
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// WaitReady waits for the ready line, the child's exit, the timeout or ctx.
// It returns what Spec.Ready kept of the line and how long after its start
// the child printed it (on error, how long it has been running).
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration) (string, time.Duration, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-p.ready:
		return r.kept, r.at.Sub(p.Started), nil
	case <-p.exited:
		return "", time.Since(p.Started), fmt.Errorf("%s exited before it was ready (%v); its log ends:\n%s", p.Name, p.waitErr, Tail(p.LogPath, 15))
	case <-t.C:
		return "", time.Since(p.Started), fmt.Errorf("%s (pid %d) not ready after %s; its log ends:\n%s", p.Name, p.PID, timeout, Tail(p.LogPath, 15))
	case <-ctx.Done():
		return "", time.Since(p.Started), ctx.Err()
	}
}

// Alive reports whether the child is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed once the child has exited; Err is then its exit status.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the child's exit status, once Exited is closed.
func (p *Proc) Err() error {
	<-p.exited
	return p.waitErr
}

// Stop sends SIGTERM to the child's PID and waits up to grace for it to
// exit, then SIGKILLs it; killed tells whether it had to. Safe to call more
// than once.
func (p *Proc) Stop(grace time.Duration) (killed bool) {
	if !p.Alive() {
		return false
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return false
	case <-t.C:
		p.Kill()
		return true
	}
}

// Kill SIGKILLs the child if it still runs and waits for it.
func (p *Proc) Kill() {
	if p.Alive() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// Build builds a main package of the workspace into dir (named after the
// package's last element) the way `task build` does: CGO_ENABLED=0 unless
// the environment says otherwise.
func Build(ctx context.Context, dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Env = os.Environ()
	if os.Getenv("CGO_ENABLED") == "" {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s (run from the repository, where go.work is): %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// Tail returns the last n lines of a file, indented.
func Tail(path string, n int) string {
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

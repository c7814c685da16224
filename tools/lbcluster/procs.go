package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process this tool started and owns: a storenode, a
// gateway or a NATS server. Its stdout is scanned for a ready line, its
// stderr goes to a log file. It is stopped by its PID only.
type proc struct {
	name    string
	role    string // "nats", "gateway", "storenode" (Logbook) or "jetstream"
	cmd     *exec.Cmd
	pid     int
	logPath string

	ready   chan string // the first stdout line matching the ready prefix
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startProc starts bin with args; env entries are added to ours minus any
// LOGBOOK_* variable. readyPrefix is what the child prints once it serves.
func startProc(name, role, bin string, args, env []string, logDir, readyPrefix string, verbose bool) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGBOOK_") && !strings.HasPrefix(kv, natsChildEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if verbose {
		cmd.Stderr = io.MultiWriter(logf, prefixWriter(name, os.Stderr))
	} else {
		cmd.Stderr = logf
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	dieWithParent(cmd)
	p := &proc{name: name, role: role, cmd: cmd, logPath: logPath, ready: make(chan string, 1), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.pid = cmd.Process.Pid
	go func() { // ends when the child closes stdout (exits)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, "stdout:", line)
			if strings.HasPrefix(line, readyPrefix) {
				select {
				case p.ready <- line:
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

// waitReady waits for the ready line, the child's exit, the timeout or ctx.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line := <-p.ready:
		return line, nil
	case <-p.exited:
		return "", fmt.Errorf("%s exited before it was ready (%v); its log ends:\n%s", p.name, p.waitErr, tail(p.logPath, 15))
	case <-t.C:
		return "", fmt.Errorf("%s (pid %d) not ready after %s; its log ends:\n%s", p.name, p.pid, timeout, tail(p.logPath, 15))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stop sends SIGTERM to the child's PID, waits up to grace for it to exit,
// then SIGKILLs it. Safe to call more than once.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// alive reports whether the child is still running.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// procGroup is every child of one system, stopped in reverse start order.
type procGroup struct {
	mu    sync.Mutex
	procs []*proc
}

func (g *procGroup) add(p *proc) {
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
}

// stopAll stops the children, last started first (gateways before
// storenodes before NATS).
func (g *procGroup) stopAll() {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(10 * time.Second)
	}
}

func (g *procGroup) list() []*proc {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*proc(nil), g.procs...)
}

// buildBinary builds a main package of the workspace into dir, the way
// `task build` does (CGO_ENABLED=0 unless the environment says otherwise).
func buildBinary(ctx context.Context, dir, pkg string) (string, error) {
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

// freeAddrs returns n distinct free addresses (held open together so that
// they differ).
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
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

type linePrefixer struct {
	prefix string
	w      io.Writer
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprint(l.w, l.prefix+line)
		}
	}
	return len(b), nil
}

func prefixWriter(name string, w io.Writer) io.Writer {
	return &linePrefixer{prefix: "[" + name + "] ", w: w}
}

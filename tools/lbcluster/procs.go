package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logbookdb/logbook/tools/internal/child"
)

// proc is one child process this tool started and owns: a storenode, a
// gateway or a NATS server.
type proc struct {
	*child.Proc
	role string // "nats", "gateway", "storenode" (Logbook) or "jetstream"
}

// startProc starts bin with args; env entries are added to ours minus any
// LOGBOOK_* variable. Its output goes to logDir/<name>.log; readyPrefix is
// what the child prints once it serves.
func startProc(name, role, bin string, args, env []string, logDir, readyPrefix string, verbose bool) (*proc, error) {
	spec := child.Spec{
		Name: name, Bin: bin, Args: args, Env: env, DropEnv: []string{natsChildEnv + "="},
		LogPath: filepath.Join(logDir, name+".log"),
		Ready:   func(line string) (string, bool) { return line, strings.HasPrefix(line, readyPrefix) },
	}
	if verbose {
		spec.Stderr = prefixWriter(name, os.Stderr)
	}
	p, err := child.Start(spec)
	if err != nil {
		return nil, err
	}
	return &proc{Proc: p, role: role}, nil
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
	stopAll(procs)
}

// stopAll stops procs, last first, each given 10s after SIGTERM.
func stopAll(procs []*proc) {
	for _, p := range slices.Backward(procs) {
		p.Stop(10 * time.Second)
	}
}

func (g *procGroup) list() []*proc {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*proc(nil), g.procs...)
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

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/logbookdb/logbook/tools/internal/child"
	"github.com/logbookdb/logbook/tools/internal/natschild"
)

// member is one process of a cluster run (a storenode, the gateway, a NATS
// server), measured on its own through /proc/<pid>.
type member struct {
	name string // "storenode1", "gateway", "nats", "js1"
	srv  *server
	w    *watcher
}

// startMember starts bin as a child logging to logDir/<name>.log; ready
// tells its ready line (see child.Spec). It does not wait for it.
func startMember(name, bin string, args, env []string, logDir string, verbose bool, ready func(string) (string, bool)) (*member, error) {
	spec := child.Spec{
		Name: name, Bin: bin, Args: args, Env: env, DropEnv: []string{natsChildEnv + "="},
		LogPath: filepath.Join(logDir, name+".log"), Ready: ready,
	}
	if verbose {
		spec.Stderr = os.Stderr
	}
	p, err := child.Start(spec)
	if err != nil {
		return nil, err
	}
	return &member{name: name, srv: &server{Proc: p}}, nil
}

// linePrefix is a Ready function: the line starts with prefix.
func linePrefix(prefix string) func(string) (string, bool) {
	return func(line string) (string, bool) { return line, strings.HasPrefix(line, prefix) }
}

// natsReady is the Ready function of a NATS child: it keeps the client URL.
func natsReady(line string) (string, bool) { return natschild.URL(line) }

// startNATSMember starts this binary as a NATS child (natschild) running
// the configuration body, written to dir/<name>.conf.
func startNATSMember(name, body, dir string, verbose bool) (*member, error) {
	conf := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startMember(name, self, nil, []string{natsChildEnv + "=" + conf}, dir, verbose, natsReady)
}

// waitReadyAll waits for every member's ready line; it returns what each
// kept of it and how long after its start each printed it.
func waitReadyAll(ctx context.Context, ms []*member, timeout time.Duration) ([]string, []startResult, error) {
	kept := make([]string, len(ms))
	starts := make([]startResult, len(ms))
	var first error
	for i, m := range ms {
		line, d, err := m.srv.WaitReady(ctx, timeout)
		kept[i], starts[i] = line, startResult{ReadyS: d.Seconds(), Error: benchkit.ErrString(err)}
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return kept, starts, first
}

// watchAll watches every member (see watcher): the run stops if one exits
// on its own or passes maxRSS.
func watchAll(ms []*member, maxRSS int, cancel context.CancelCauseFunc) {
	for _, m := range ms {
		m.w = watch(m.srv, maxRSS, cancel)
	}
}

// unwatch stops the members' watchers; call it before stopping them.
func unwatch(ms []*member) {
	for _, m := range ms {
		m.w.close()
	}
}

// stopMembers SIGTERMs every member at once and waits for each (killed
// after grace): how long each took.
// stopAll stops ms like stopMembers and fails with the first stop's
// error, naming what was stopped.
func stopAll(ms []*member, grace time.Duration, what string) ([]stopResult, error) {
	out := stopMembers(ms, grace)
	for _, s := range out {
		if s.Error != "" {
			return out, errors.New(what + " stop: " + s.Error)
		}
	}
	return out, nil
}

func stopMembers(ms []*member, grace time.Duration) []stopResult {
	out := make([]stopResult, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() { // ends when m has exited
			defer wg.Done()
			d, err := m.srv.stop(grace)
			out[i] = stopResult{S: d.Seconds(), Error: benchkit.ErrString(err)}
		}()
	}
	wg.Wait()
	return out
}

// killMembers kills whatever still runs; safe at any time.
func killMembers(ms []*member) {
	for _, m := range ms {
		if m != nil {
			m.w.close()
			m.srv.kill()
		}
	}
}

// sampleAll samples every member at once.
func sampleAll(ms []*member, withFDs bool) ([]procSample, error) {
	out := make([]procSample, len(ms))
	for i, m := range ms {
		s, err := sampleProc(m.srv.PID, withFDs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		out[i] = s
	}
	return out, nil
}

// sumSample adds the members' samples up: RSS, fds, threads and CPU of the
// group, at the time of the last sample.
func sumSample(ms []*member) (procSample, error) {
	all, err := sampleAll(ms, false)
	if err != nil {
		return procSample{}, err
	}
	var s procSample
	for _, x := range all {
		s.At = x.At
		s.RSSKiB += x.RSSKiB
		s.HWMKiB += x.HWMKiB
		s.AnonKiB += x.AnonKiB
		s.FileKiB += x.FileKiB
		s.Threads += x.Threads
		s.FDs += x.FDs
		s.CPU += x.CPU
	}
	return s, nil
}

// groupMeasured is what createStores samples of a cluster: its members
// summed; the peak is the largest member's.
func groupMeasured(ms []*member) measured {
	return measured{
		sample: func() (procSample, error) { return sumSample(ms) },
		peakKiB: func() int64 {
			var p int64
			for _, m := range ms {
				p = max(p, m.w.peak())
			}
			return p
		},
	}
}

// cpuBetween is each member's CPU between two sampleAll's, in % of a core.
func cpuBetween(a, b []procSample) []float64 {
	if len(a) != len(b) {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = cpuPct(a[i], b[i])
	}
	return out
}

// measureIdleAll waits -settle, then measures every member over the same
// -idle window: CPU, and RSS, fds and threads at its end. Each result's
// Label is the member's name.
func measureIdleAll(ctx context.Context, ms []*member, o *options, label string) ([]*idleResult, error) {
	progress("idle: %s (settle %s, measure %s)", label, o.settle, o.idle)
	if err := sleep(ctx, o.settle); err != nil {
		return nil, err
	}
	a, err := sampleAll(ms, false)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, o.idle); err != nil {
		return nil, err
	}
	b, err := sampleAll(ms, true)
	if err != nil {
		return nil, err
	}
	out := make([]*idleResult, len(ms))
	var line strings.Builder
	for i, m := range ms {
		out[i] = &idleResult{
			Label: m.name, IdleS: b[i].At.Sub(a[i].At).Seconds(), CPUPct: cpuPct(a[i], b[i]),
			RSSMiB: mib(b[i].RSSKiB), AnonMiB: mib(b[i].AnonKiB), FileMiB: mib(b[i].FileKiB), HWMMiB: mib(b[i].HWMKiB),
			FDs: b[i].FDs, FDDetail: b[i].fdDetail, Threads: b[i].Threads,
		}
		fmt.Fprintf(&line, "  %s: cpu %.1f%% rss %.0f MiB fds %d", m.name, out[i].CPUPct, out[i].RSSMiB, out[i].FDs)
	}
	progress("idle:%s", line.String())
	return out, nil
}

// freeAddrs returns n distinct free 127.0.0.1 addresses (held open together
// so that they differ).
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

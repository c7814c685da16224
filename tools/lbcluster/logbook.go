package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/logbookdb/logbook/tools/internal/child"
)

const (
	storenodePkg = "github.com/logbookdb/logbook/services/storenode"
	gatewayPkg   = "github.com/logbookdb/logbook/services/gateway"
)

// maxReadPage is the server's largest page (wire.DefaultLimits().MaxReadCount).
const maxReadPage = 4096

// runEnv is what every system of a run shares.
type runEnv struct {
	ctx      context.Context
	dir      string // data directories live under it
	logDir   string
	binDir   string
	verbose  bool
	logLevel string
	procs    *procGroup // every child of the run, for cleanup
}

// logbookCluster is one NATS server, 3 storenodes and G gateways, each in a
// process of its own, on 127.0.0.1.
type logbookCluster struct {
	env      *runEnv
	url      string
	children []*proc
	pprof    map[int]string // storenode id → pprof address (when profiling)
	gwPprof  map[int]string // gateway number → pprof address (when profiling)
	admin    *client.Client
}

type logbookOptions struct {
	nodes    int
	gateways int
	pprof    bool
	// storenodeBin, if set, is used instead of building storenodePkg.
	storenodeBin string
	// storenodeFlags are passed as they are to every storenode.
	storenodeFlags []string
}

func startLogbook(env *runEnv, o logbookOptions) (*logbookCluster, error) {
	ctx := env.ctx
	c := &logbookCluster{env: env, pprof: map[int]string{}, gwPprof: map[int]string{}}
	fail := func(err error) (*logbookCluster, error) {
		c.close()
		return nil, fmt.Errorf("logbook cluster: %w", err)
	}
	snBin := o.storenodeBin
	if snBin == "" {
		var err error
		if snBin, err = child.Build(ctx, env.binDir, storenodePkg); err != nil {
			return fail(err)
		}
	}
	gwBin, err := child.Build(ctx, env.binDir, gatewayPkg)
	if err != nil {
		return fail(err)
	}
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return fail(err)
	}
	ns, url, err := startNATS(env, natsConf{name: "lb-nats", listen: addr}, "nats")
	if err != nil {
		return fail(err)
	}
	c.children = append(c.children, ns)
	c.url = url

	// Storenodes, all at once: they find each other over NATS and form
	// one cluster of o.nodes.
	raft, err := freeAddrs(o.nodes * 2)
	if err != nil {
		return fail(err)
	}
	var nodes []*proc
	for i := 1; i <= o.nodes; i++ {
		args := []string{
			"-nats-url", url,
			"-node-id", strconv.Itoa(i),
			"-raft-addr", raft[i-1],
			"-cluster", "lbcluster",
			"-initial-size", strconv.Itoa(o.nodes),
			"-data", filepath.Join(env.dir, fmt.Sprintf("storenode%d", i)),
			"-log-level", env.logLevel,
		}
		args = append(args, o.storenodeFlags...)
		if o.pprof {
			c.pprof[i] = raft[o.nodes+i-1]
			args = append(args, "-pprof-addr", c.pprof[i])
		}
		p, err := startProc(fmt.Sprintf("storenode%d", i), "storenode", snBin, args, nil, env.logDir, "Storenode ", env.verbose)
		if err != nil {
			return fail(err)
		}
		env.procs.add(p)
		c.children = append(c.children, p)
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		if _, _, err := p.WaitReady(ctx, 90*time.Second); err != nil {
			return fail(err)
		}
	}
	gwAddrs, err := freeAddrs(o.gateways)
	if err != nil {
		return fail(err)
	}
	for i := 1; i <= o.gateways; i++ {
		args := []string{"-nats-url", url, "-log-level", env.logLevel}
		if o.pprof {
			c.gwPprof[i] = gwAddrs[i-1]
			args = append(args, "-pprof-addr", c.gwPprof[i])
		}
		p, err := startProc(fmt.Sprintf("gateway%d", i), "gateway", gwBin, args, nil, env.logDir, "Gateway is ready", env.verbose)
		if err != nil {
			return fail(err)
		}
		env.procs.add(p)
		c.children = append(c.children, p)
		if _, _, err := p.WaitReady(ctx, 30*time.Second); err != nil {
			return fail(err)
		}
	}
	if c.admin, err = client.Connect(url); err != nil {
		return fail(err)
	}
	return c, nil
}

func (c *logbookCluster) name() string { return "logbook" }

func (c *logbookCluster) procs() []*proc { return c.children }

func storeID(set storeSet, i int) string { return fmt.Sprintf("%s-%02d", set.prefix, i) }

// createStores creates the set's stores with replication factor 3 and
// waits until each runs with a leader.
func (c *logbookCluster) createStores(ctx context.Context, set storeSet) error {
	rf := int64(3)
	for i := range set.n {
		id := storeID(set, i)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.admin.Stores().Create(cctx, id, &client.StoreSettings{ReplicationFactor: &rf})
		cancel()
		if err != nil {
			return fmt.Errorf("create store %s: %w", id, err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := range set.n {
		id := storeID(set, i)
		for {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := c.admin.Stores().Status(sctx, id)
			cancel()
			if err == nil && st.Status == wire.StatusRunning && st.Leader != 0 && len(st.Replicas) == 3 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("store %s not running with a leader and 3 replicas after 60s (status %+v, err %v)", id, st, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// leaders returns how many stores of the set each storenode leads.
func (c *logbookCluster) leaders(ctx context.Context, set storeSet) map[uint64]int {
	out := map[uint64]int{}
	for i := range set.n {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.admin.Stores().Status(sctx, storeID(set, i))
		cancel()
		if err == nil {
			out[st.Leader]++
		}
	}
	return out
}

func (c *logbookCluster) newAppender(int) (appender, error) {
	cl, err := client.Connect(c.url)
	if err != nil {
		return nil, err
	}
	return &logbookAppender{c: cl}, nil
}

// verify reads every stream back from its start: its revisions must be
// dense, its last revision the one its client saw last, and it must hold at
// least as many events as its client had acknowledged (exactly as many when
// no append failed).
func (c *logbookCluster) verify(ctx context.Context, streams []*streamState) (verifyResult, error) {
	var mu sync.Mutex
	var res verifyResult
	const workers = 16
	err := benchkit.Parallel(workers, func(w int) error {
		for i := w; i < len(streams); i += workers {
			s := streams[i]
			st := c.admin.Store(storeID(s.set, s.store))
			n, dense, err := readAll(ctx, st, s.name)
			if err != nil {
				return fmt.Errorf("verify %s: %w", s.name, err)
			}
			mu.Lock()
			res.Checked++
			res.Events += n
			switch {
			case !dense || n < s.acked:
				res.Lost++
				if res.Lost <= 5 {
					fmt.Fprintf(os.Stderr, "lost on %s: %d events read (dense %v), %d acknowledged\n", s.name, n, dense, s.acked)
				}
			case n > s.acked:
				res.Extra++
			}
			if !s.exists || n == 0 || uint64(n-1) != s.last {
				res.Mismatches++
			}
			mu.Unlock()
		}
		return nil
	})
	return res, err
}

// readAll reads a whole stream with the largest pages the server allows and
// returns its event count and whether revisions were 0, 1, 2... without gaps.
func readAll(ctx context.Context, st *client.Store, stream string) (int, bool, error) {
	got, from := 0, uint64(0)
	dense := true
	for {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		page, err := st.Read(rctx, stream, client.ReadOptions{MaxCount: maxReadPage, From: client.Revision(from)})
		cancel()
		if errors.Is(err, client.ErrStreamNotFound) {
			return 0, true, nil
		}
		if err != nil {
			return got, dense, err
		}
		for i := range page.Events {
			if page.Events[i].Revision != uint64(got) {
				dense = false
			}
			got++
		}
		if page.EndOfStream || len(page.Events) == 0 {
			return got, dense, nil
		}
		from = page.NextRevision
	}
}

// profile takes a CPU profile and an allocation profile (the allocations
// made during the same window) of every storenode and every gateway for d,
// concurrently, into dir/<process>-<tag>.pprof and
// dir/<process>-<tag>.allocs.pprof; the returned func waits for them.
func (c *logbookCluster) profile(dir, tag string, d time.Duration) func() {
	secs := max(1, int(d.Seconds())-1)
	var wg sync.WaitGroup
	take := func(name, addr string) {
		for _, p := range []struct{ url, file string }{
			{"profile", name + "-" + tag + ".pprof"},
			{"allocs", name + "-" + tag + ".allocs.pprof"},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, p.url, secs)
				if err := fetch(url, filepath.Join(dir, p.file), d+30*time.Second); err != nil {
					fmt.Fprintf(os.Stderr, "profile of %s: %v\n", name, err)
				}
			}()
		}
	}
	for id, addr := range c.pprof {
		take(fmt.Sprintf("storenode%d", id), addr)
	}
	for id, addr := range c.gwPprof {
		take(fmt.Sprintf("gateway%d", id), addr)
	}
	return wg.Wait
}

func fetch(url, path string, timeout time.Duration) error {
	hc := &http.Client{Timeout: timeout}
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *logbookCluster) close() {
	if c.admin != nil {
		c.admin.Close()
	}
	stopAll(c.children)
}

// logbookAppender is one client: its own NATS connection (client.Connect).
type logbookAppender struct {
	c *client.Client
}

func (a *logbookAppender) store(s *streamState) *client.Store {
	return a.c.Store(storeID(s.set, s.store))
}

func (a *logbookAppender) Append(ctx context.Context, s *streamState, data []byte) error {
	last, err := benchkit.AppendExpecting(ctx, a.store(s), s.name, s.exists, s.last, data)
	if err != nil {
		return err
	}
	s.exists, s.last = true, last
	s.acked++
	return nil
}

func (a *logbookAppender) Lookup(ctx context.Context, s *streamState) error {
	exists, last, err := benchkit.LastRevision(ctx, a.store(s), s.name)
	if err == nil {
		s.exists, s.last = exists, last
	}
	return err
}

func (a *logbookAppender) Close() { a.c.Close() }

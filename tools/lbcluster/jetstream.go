package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jetstreamCluster is 3 nats-servers (the module's nats-server library, each
// in a process of its own) with cluster routes on 127.0.0.1, JetStream on
// file storage with `sync_interval: always` (benchkit.SyncAlways) or
// JetStream's default, fsync every 2 minutes (benchkit.SyncDefault). A
// Logbook store is a stream with Replicas: 3; a Logbook stream is a subject
// of it.
type jetstreamCluster struct {
	sysName  string // "js-always", "js-default"
	env      *runEnv
	urls     []string
	children []*proc
	nc       *nats.Conn
	js       jetstream.JetStream
}

func startJetStream(env *runEnv, servers int, setting string) (*jetstreamCluster, error) {
	c := &jetstreamCluster{sysName: benchkit.JetStreamName(setting), env: env}
	fail := func(err error) (*jetstreamCluster, error) {
		c.close()
		return nil, fmt.Errorf("%s cluster: %w", c.sysName, err)
	}
	addrs, err := freeAddrs(2 * servers)
	if err != nil {
		return fail(err)
	}
	routes := addrs[servers:]
	var started []*proc
	for i := range servers {
		conf := natsConf{
			name:        fmt.Sprintf("%s%d", c.sysName, i+1),
			listen:      addrs[i],
			storeDir:    filepath.Join(env.dir, fmt.Sprintf("%s%d", c.sysName, i+1)),
			syncAlways:  setting == benchkit.SyncAlways,
			clusterName: "lbcluster-" + c.sysName,
			clusterAddr: routes[i],
			routes:      routes,
		}
		path, err := conf.write(env.dir)
		if err != nil {
			return fail(err)
		}
		self, err := os.Executable()
		if err != nil {
			return fail(err)
		}
		p, err := startProc(conf.name, "jetstream", self, nil, []string{natsChildEnv + "=" + path}, env.logDir, natsReadyPrefix, env.verbose)
		if err != nil {
			return fail(err)
		}
		env.procs.add(p)
		c.children = append(c.children, p)
		started = append(started, p)
	}
	for _, p := range started {
		line, _, err := p.WaitReady(env.ctx, 30*time.Second)
		if err != nil {
			return fail(err)
		}
		c.urls = append(c.urls, strings.TrimPrefix(line, natsReadyPrefix))
	}
	if c.nc, err = nats.Connect(strings.Join(c.urls, ",")); err != nil {
		return fail(err)
	}
	if c.js, err = jetstream.New(c.nc); err != nil {
		return fail(err)
	}
	// Wait for the meta group: the account info answers once it has a leader.
	deadline := time.Now().Add(60 * time.Second)
	for {
		actx, cancel := context.WithTimeout(env.ctx, 2*time.Second)
		_, err := c.js.AccountInfo(actx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || env.ctx.Err() != nil {
			return fail(fmt.Errorf("no JetStream meta leader after 60s: %w", err))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c, nil
}

func (c *jetstreamCluster) name() string { return c.sysName }

func (c *jetstreamCluster) procs() []*proc { return c.children }

func jsStream(set storeSet, i int) string {
	return fmt.Sprintf("%s_%02d", strings.ToUpper(set.prefix), i)
}

func jsSubject(s *streamState) string {
	// name is "<scenario>-s<i>": one token each, so the scenario's subjects
	// of a store match "<set>.<store>.<scenario>.*".
	return fmt.Sprintf("%s.%02d.%s", s.set.prefix, s.store, strings.Replace(s.name, "-", ".", 1))
}

// createStores creates one R3 file stream per store, retried while the
// cluster settles.
func (c *jetstreamCluster) createStores(ctx context.Context, set storeSet) error {
	for i := range set.n {
		cfg := jetstream.StreamConfig{
			Name:     jsStream(set, i),
			Subjects: []string{fmt.Sprintf("%s.%02d.>", set.prefix, i)},
			Storage:  jetstream.FileStorage,
			Replicas: 3,
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := c.js.CreateStream(cctx, cfg)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("create stream %s: %w", cfg.Name, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		// Wait until the stream has a leader and two current replicas.
		for {
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := c.js.Stream(ictx, cfg.Name)
			cancel()
			if err == nil {
				ci := st.CachedInfo().Cluster
				if ci != nil && ci.Leader != "" && len(ci.Replicas) == 2 && ci.Replicas[0].Current && ci.Replicas[1].Current {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("stream %s without a leader and 2 current replicas after 60s (err %v)", cfg.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// leaders returns how many streams of the set each server leads.
func (c *jetstreamCluster) leaders(ctx context.Context, set storeSet) map[string]int {
	out := map[string]int{}
	for i := range set.n {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.js.Stream(ictx, jsStream(set, i))
		cancel()
		if err == nil && st.CachedInfo().Cluster != nil {
			out[st.CachedInfo().Cluster.Leader]++
		}
	}
	return out
}

// newAppender connects client k to server k mod 3, as clients spread over a
// NATS cluster would be.
func (c *jetstreamCluster) newAppender(k int) (appender, error) {
	nc, js, err := benchkit.ConnectJetStream(c.urls[k%len(c.urls)])
	if err != nil {
		return nil, err
	}
	return &jetstreamAppender{nc: nc, js: js, streams: map[string]jetstream.Stream{}}, nil
}

// verify compares every subject's message count with the acknowledgements
// (one stream-info request per store, filtered on the scenario's subjects)
// and its last sequence with the one its client saw.
func (c *jetstreamCluster) verify(ctx context.Context, streams []*streamState) (verifyResult, error) {
	var res verifyResult
	if len(streams) == 0 {
		return res, nil
	}
	counts := map[string]uint64{}
	set := streams[0].set
	tag, _, _ := strings.Cut(streams[0].name, "-")
	for i := range set.n {
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var info *jetstream.StreamInfo
		st, err := c.js.Stream(ictx, jsStream(set, i))
		if err == nil {
			info, err = st.Info(ictx, jetstream.WithSubjectFilter(fmt.Sprintf("%s.%02d.%s.*", set.prefix, i, tag)))
		}
		cancel()
		if err != nil {
			return res, fmt.Errorf("verify %s: %w", jsStream(set, i), err)
		}
		for subj, n := range info.State.Subjects {
			counts[subj] = n
		}
	}
	a, err := c.newAppender(0)
	if err != nil {
		return res, err
	}
	defer a.Close()
	var mu sync.Mutex
	const workers = 16
	err = benchkit.Parallel(workers, func(w int) error {
		for i := w; i < len(streams); i += workers {
			s := streams[i]
			got := streamState{set: s.set, store: s.store, name: s.name}
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.Lookup(lctx, &got)
			cancel()
			if err != nil {
				return fmt.Errorf("verify %s: %w", s.name, err)
			}
			n := int(counts[jsSubject(s)])
			mu.Lock()
			res.Checked++
			res.Events += n
			switch {
			case n < s.acked:
				res.Lost++
			case n > s.acked:
				res.Extra++
			}
			if got.exists != s.exists || got.last != s.last {
				res.Mismatches++
			}
			mu.Unlock()
		}
		return nil
	})
	return res, err
}

func (c *jetstreamCluster) close() {
	if c.nc != nil {
		c.nc.Close()
	}
	stopAll(c.children)
}

type jetstreamAppender struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	mu      sync.Mutex
	streams map[string]jetstream.Stream // for lookups, fetched on first use
}

// Append publishes with Nats-Expected-Last-Subject-Sequence (0: no message
// on the subject yet) and waits for the PubAck.
func (a *jetstreamAppender) Append(ctx context.Context, s *streamState, data []byte) error {
	seq, err := benchkit.PublishExpecting(ctx, a.js, jsSubject(s), s.last, data)
	if err != nil {
		return err
	}
	s.exists, s.last = true, seq
	s.acked++
	return nil
}

func (a *jetstreamAppender) Lookup(ctx context.Context, s *streamState) error {
	name := jsStream(s.set, s.store)
	a.mu.Lock()
	st := a.streams[name]
	a.mu.Unlock()
	if st == nil {
		var err error
		if st, err = a.js.Stream(ctx, name); err != nil {
			return err
		}
		a.mu.Lock()
		a.streams[name] = st
		a.mu.Unlock()
	}
	exists, last, err := benchkit.LastOnSubject(ctx, st, jsSubject(s))
	if err == nil {
		s.exists, s.last = exists, last
	}
	return err
}

func (a *jetstreamAppender) Close() { a.nc.Close() }

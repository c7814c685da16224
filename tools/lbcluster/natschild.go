package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logbookdb/logbook/tools/internal/natschild"
)

// natsChildEnv, when set, turns this binary (or the test binary) into a
// nats-server child (tools/internal/natschild) running the configuration
// file it names.
const natsChildEnv = "LBCLUSTER_NATS_CONFIG"

// natsReadyPrefix is what a NATS child prints once it accepts clients.
const natsReadyPrefix = natschild.ReadyPrefix

// maybeRunNATSChild runs the NATS child and exits if natsChildEnv is set.
func maybeRunNATSChild() { natschild.MaybeRun(natsChildEnv, 30*time.Second) }

// natsConf is one NATS server's configuration file.
type natsConf struct {
	name        string
	listen      string   // client address
	storeDir    string   // JetStream's directory; "" for no JetStream
	syncAlways  bool     // JetStream with `sync_interval: always`; else its default (fsync every 2 min)
	clusterName string   // "" for no cluster
	clusterAddr string   // route listen address
	routes      []string // route addresses of every member (self included is fine)
}

// write renders the configuration into dir/<name>.conf and returns the path.
// JetStream gets file storage, with `sync_interval: always` when syncAlways
// (every message fsynced before it is acknowledged: SyncAlways in
// server/opts.go), else the default sync interval (2 minutes).
func (c natsConf) write(dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\nlisten: %q\nmax_payload: 8MB\n", c.name, c.listen)
	if c.storeDir != "" {
		fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n", c.storeDir)
		if c.syncAlways {
			b.WriteString("  sync_interval: always\n")
		}
		b.WriteString("}\n")
	}
	if c.clusterName != "" {
		fmt.Fprintf(&b, "cluster {\n  name: %q\n  listen: %q\n  routes: [\n", c.clusterName, c.clusterAddr)
		for _, r := range c.routes {
			fmt.Fprintf(&b, "    \"nats-route://%s\"\n", r)
		}
		b.WriteString("  ]\n}\n")
	}
	path := filepath.Join(dir, c.name+".conf")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// startNATS starts a NATS child with conf and waits until it accepts
// clients; it returns the process and its client URL.
func startNATS(env *runEnv, conf natsConf, role string) (*proc, string, error) {
	path, err := conf.write(env.dir)
	if err != nil {
		return nil, "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc(conf.name, role, self, nil, []string{natsChildEnv + "=" + path}, env.logDir, natsReadyPrefix, env.verbose)
	if err != nil {
		return nil, "", err
	}
	env.procs.add(p)
	line, _, err := p.WaitReady(env.ctx, 30*time.Second)
	if err != nil {
		return nil, "", err
	}
	return p, strings.TrimPrefix(line, natsReadyPrefix), nil
}

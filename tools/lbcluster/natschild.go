package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsChildEnv, when set in the environment, turns this binary (or the test
// binary) into a nats-server child: it runs the nats-server library of the
// module (v2.15) with the configuration file it names, in a process of its
// own, until SIGTERM. This spares building the nats-server command, whose
// extra dependencies are not in the workspace.
const natsChildEnv = "LBCLUSTER_NATS_CONFIG"

// natsReadyPrefix is what a NATS child prints once it accepts clients.
const natsReadyPrefix = "nats-server ready "

// maybeRunNATSChild runs the NATS child and exits if natsChildEnv is set.
func maybeRunNATSChild() {
	conf := os.Getenv(natsChildEnv)
	if conf == "" {
		return
	}
	if err := runNATSChild(conf); err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runNATSChild(conf string) error {
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		return err
	}
	opts.NoSigs = true // SIGTERM is handled below
	ns, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	ns.ConfigureLogger() // to stderr, which the parent sends to a log file
	go ns.Start()        // stopped by Shutdown below
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("not ready after 30s")
	}
	fmt.Println(natsReadyPrefix + ns.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

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

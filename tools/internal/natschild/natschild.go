// Package natschild runs the nats-server library of the tools' module
// (the JetStream the load tools measure against) in a process of its own:
// the tool's binary, re-run with an environment variable naming a
// nats-server configuration file. This spares building the nats-server
// command, whose extra dependencies are not in the workspace, and keeps the
// peer's CPU and memory apart from the load generator's.
package natschild

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ReadyPrefix starts the line a child prints once it accepts clients; the
// client URL follows it.
const ReadyPrefix = "nats-server ready "

// MaybeRun runs the NATS child and exits if the variable env is set: call
// it first thing in main (and in TestMain of a test that starts children).
// The child serves until SIGTERM or SIGINT; ready bounds its start.
func MaybeRun(env string, ready time.Duration) {
	conf := os.Getenv(env)
	if conf == "" {
		return
	}
	if err := run(conf, ready); err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// URL returns the client URL of a child's ready line.
func URL(line string) (string, bool) {
	if !strings.HasPrefix(line, ReadyPrefix) || len(line) == len(ReadyPrefix) {
		return "", false
	}
	return line[len(ReadyPrefix):], true
}

func run(conf string, ready time.Duration) error {
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
	if !ns.ReadyForConnections(ready) {
		ns.Shutdown()
		return fmt.Errorf("not ready after %s", ready)
	}
	fmt.Println(ReadyPrefix + ns.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fsyncCounter counts the fsync and fdatasync calls of a set of processes
// with `perf stat` on the syscall tracepoints (opt-in: -count-fsyncs; needs
// perf and the right to trace, e.g. root).
type fsyncCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startFsyncCounter(ctx context.Context, pids []int) (*fsyncCounter, error) {
	var ps []string
	for _, p := range pids {
		ps = append(ps, strconv.Itoa(p))
	}
	c := &fsyncCounter{}
	c.cmd = exec.CommandContext(ctx, "perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
		"-p", strings.Join(ps, ","))
	c.cmd.Stderr = &c.out
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	time.Sleep(100 * time.Millisecond) // let it attach
	return c, nil
}

// stop interrupts perf and returns the total count.
func (c *fsyncCounter) stop() (int64, error) {
	c.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	var total int64
	found := false
	for _, line := range strings.Split(c.out.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 3 && strings.Contains(f[2], "syscalls:sys_enter_") {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err == nil {
				total += n
				found = true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("perf stat: no counts in %q", c.out.String())
	}
	return total, nil
}

package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Bounded is what Main needs of a tool's options.
type Bounded interface {
	// Bounds are the bound on the whole run and the work directory given
	// on the command line ("": a temporary one).
	Bounds() (timeout time.Duration, dir string)
}

// Main runs a load tool: parse reads its flags (an error exits with status
// 2), then Exec runs it (an error exits with status 1). Errors are printed
// to stderr after the tool's name.
func Main[O Bounded](tool string, parse func() (O, error), run func(ctx context.Context, o O, dir string) error) {
	o, err := parse()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
		os.Exit(2)
	}
	if err := Exec(tool, o, run); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
		os.Exit(1)
	}
}

// Exec runs run within o's bounds: with a context that ^C or the timeout
// ends, in the work directory (see WorkDir), removed at the end when it is
// a temporary one.
func Exec[O Bounded](tool string, o O, run func(ctx context.Context, o O, dir string) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	timeout, dir := o.Bounds()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, remove, err := WorkDir(dir, tool+"-")
	if err != nil {
		return err
	}
	defer remove()
	return run(ctx, o, dir)
}

// IntList parses a comma-separated list of positive numbers given to the
// flag name ("-clients").
func IntList(name, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// CheckAppendRun checks the flags that lbbench and lbcluster share: -only
// (which systems run) and -duration (of each measured phase).
func CheckAppendRun(only string, duration time.Duration) error {
	switch {
	case only != "both" && only != "logbook" && only != "jetstream":
		return fmt.Errorf("-only: want logbook, jetstream or both, not %q", only)
	case duration <= 0:
		return errors.New("-duration must be positive")
	}
	return nil
}

// WorkDir returns the directory a run works in: dir, created if need be, or
// when dir is "" a new temporary directory named after prefix, which remove
// deletes (for dir, remove does nothing).
func WorkDir(dir, prefix string) (path string, remove func(), err error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// Logger is the servers' logger of an in-process run: text on stderr when
// verbose, else nothing.
func Logger(verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Environment describes the machine and the run for a report: Go version,
// OS/architecture, CPUs, host name, work directory and start time (UTC).
func Environment(dir string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		"go":      runtime.Version(),
		"os_arch": runtime.GOOS + "/" + runtime.GOARCH,
		"cpus":    strconv.Itoa(runtime.NumCPU()),
		"host":    host,
		"dir":     dir,
		"started": time.Now().UTC().Format(time.RFC3339),
		// The peer's versions, read from this binary's build information.
		"nats_server": NATSServerVersion(),
		"nats_go":     NATSGoVersion(),
	}
}

// RunInfo heads a tool's report: the machine and the run (see Environment)
// and the options it ran with.
type RunInfo struct {
	Env     map[string]string `json:"env"`
	Options map[string]string `json:"options"`
}

// Settings are the options that the append benchmarks share, for RunInfo.
func Settings(duration time.Duration, clients []int, streams, eventSize int, only string) map[string]string {
	return map[string]string{
		"duration":   duration.String(),
		"clients":    fmt.Sprint(clients),
		"streams":    strconv.Itoa(streams),
		"event_size": strconv.Itoa(eventSize),
		"only":       only,
	}
}

// ErrString is err's message, or "" for nil.
func ErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

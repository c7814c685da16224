// Package pprofflag is the -pprof-addr flag of Logbook's processes: opt-in
// profiling. When given, the process serves Go's net/http/pprof handlers
// (/debug/pprof/...) on that address, on a mux of their own (never on the
// -http health and metrics endpoint). tools/lbcluster uses it to profile
// storenodes and gateways under load. The listener starts while the flags
// are parsed and lives as long as the process. Bind it to loopback:
// profiles expose internals and cost CPU while they run.
package pprofflag

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// Register declares -pprof-addr on fs; process names the process in the
// listener's error messages.
func Register(fs *flag.FlagSet, process string) {
	fs.Func("pprof-addr", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (off by default; for profiling only)",
		func(addr string) error { return start(process, addr) })
}

func start(process, addr string) error {
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { // lives as long as the process; profiling only
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			fmt.Fprintln(os.Stderr, process+": pprof listener:", err)
		}
	}()
	return nil
}

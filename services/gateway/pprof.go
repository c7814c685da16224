package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// -pprof-addr is opt-in profiling: when given, the gateway serves Go's
// net/http/pprof handlers (/debug/pprof/...) on that address, on a mux of
// their own (never on the -http health endpoint). Used by tools/lbcluster to
// take CPU profiles of gateways under load. The listener starts while the
// flags are parsed and lives as long as the process. Bind it to loopback:
// profiles expose internals and cost CPU while they run.
func registerPprof(fs *flag.FlagSet) {
	fs.Func("pprof-addr", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (off by default; for profiling only)", startPprof)
}

func startPprof(addr string) error {
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
			fmt.Fprintln(os.Stderr, "gateway: pprof listener:", err)
		}
	}()
	return nil
}

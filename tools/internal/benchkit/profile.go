package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// ProfileCPU starts a CPU profile of this process written to dir/name.pprof
// and returns the function that stops and writes it. With dir empty it
// profiles nothing. Profiles of one system's scenarios go to one file each;
// `go tool pprof` takes several files and adds them up.
func ProfileCPU(dir, name string) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		}
	}, nil
}

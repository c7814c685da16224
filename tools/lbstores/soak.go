package main

import (
	"context"
	"time"
)

// soakSample is the server at one moment of a long idle watch.
type soakSample struct {
	AfterS float64 `json:"after_s"` // since the watch started
	RSSMiB float64 `json:"rss_mib"`
	FDs    int     `json:"fds"`
	CPUPct float64 `json:"cpu_pct"` // since the previous sample, % of one core
	Files  int     `json:"files"`   // files under the data directory
}

// soak watches the idle server for d, sampling every `every`: memory that
// grows while nothing happens (periodic background work) shows up here.
func soak(ctx context.Context, srv *server, dataDir string, d, every time.Duration) ([]soakSample, error) {
	progress("soak: watching the idle server for %s", d)
	start, err := sampleProc(srv.PID, false)
	if err != nil {
		return nil, err
	}
	out := []soakSample{{RSSMiB: mib(start.RSSKiB), FDs: start.FDs, Files: measureDisk(dataDir).Files}}
	prev := start
	for time.Since(start.At) < d {
		if err := sleep(ctx, min(every, d-time.Since(start.At))); err != nil {
			return out, err
		}
		s, err := sampleProc(srv.PID, false)
		if err != nil {
			return out, err
		}
		out = append(out, soakSample{
			AfterS: s.At.Sub(start.At).Seconds(), RSSMiB: mib(s.RSSKiB), FDs: s.FDs,
			CPUPct: cpuPct(prev, s), Files: measureDisk(dataDir).Files,
		})
		progress("soak: %4.0fs  rss %6.0f MiB  fds %5d  cpu %5.1f%%", out[len(out)-1].AfterS, mib(s.RSSKiB), s.FDs, cpuPct(prev, s))
		prev = s
	}
	return out, nil
}

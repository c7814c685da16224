package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// watcher samples the server once a second while it runs. It stops the run
// (cancels its context with the reason) when the server's RSS passes the
// limit or the server exits on its own, so that a run cannot run away.
type watcher struct {
	srv    *server
	limit  int64 // KiB; 0: no limit
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	peakKiB int64
	last    procSample
	done    chan struct{}
	stop    chan struct{}
}

func watch(srv *server, limitMiB int, cancel context.CancelCauseFunc) *watcher {
	w := &watcher{srv: srv, limit: int64(limitMiB) << 10, cancel: cancel, done: make(chan struct{}), stop: make(chan struct{})}
	go w.loop()
	return w
}

func (w *watcher) loop() {
	defer close(w.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := w.srv.exitedUnexpectedly(); err != nil {
			w.cancel(err)
			return
		}
		if s, err := sampleProc(w.srv.PID, false); err == nil {
			w.mu.Lock()
			w.last = s
			w.peakKiB = max(w.peakKiB, s.RSSKiB, s.HWMKiB)
			w.mu.Unlock()
			if w.limit > 0 && s.RSSKiB > w.limit {
				w.cancel(fmt.Errorf("server RSS %d MiB passed -max-rss %d MiB: run stopped", s.RSSKiB>>10, w.limit>>10))
				return
			}
		}
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// peak is the highest RSS seen (VmHWM included), in KiB.
func (w *watcher) peak() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peakKiB
}

// close stops the watcher; call it before stopping the server on purpose.
func (w *watcher) close() {
	if w == nil {
		return
	}
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

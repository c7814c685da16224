package main

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// logbookSystem is a single-node Logbook started in this process (embedded
// NATS, storenode, gateway), reached by the clients over TCP like any client.
type logbookSystem struct {
	named
	lb     *embed.Logbook
	reader *client.Client
}

// maxReadPage is the server's largest page (wire.DefaultLimits().MaxReadCount).
const maxReadPage = 4096

// startLogbook starts Logbook with cfg's settings (see benchkit.StartLogbookWith).
func startLogbook(ctx context.Context, dir string, cfg embed.Config) (*logbookSystem, error) {
	lb, err := benchkit.StartLogbookWith(ctx, dir, cfg)
	if err != nil {
		return nil, err
	}
	s := &logbookSystem{named: named{"logbook", "%s-s%04d"}, lb: lb}
	if s.reader, err = client.Connect(lb.ClientURL()); err != nil {
		lb.Close()
		return nil, err
	}
	return s, nil
}

func (s *logbookSystem) newAppender(int) (appender, error) {
	c, err := client.Connect(s.lb.ClientURL())
	if err != nil {
		return nil, err
	}
	return &logbookAppender{c: c, st: c.Store(s.lb.StoreID())}, nil
}

func (s *logbookSystem) writeStream(ctx context.Context, stream string, n int, data []byte) error {
	st := s.reader.Store(s.lb.StoreID())
	exp := client.NoStream
	for n > 0 {
		k := min(n, 100)
		evs := make([]client.Event, k)
		for i := range evs {
			evs[i] = client.Event{Type: "bench", Data: data}
		}
		res, err := st.Append(ctx, stream, exp, evs...)
		if err != nil {
			return err
		}
		exp = client.Exact(res.LastRevision)
		n -= k
	}
	return nil
}

// readStream pages through the stream with the largest page the server allows.
func (s *logbookSystem) readStream(ctx context.Context, stream string, n int) (time.Duration, int, error) {
	st := s.reader.Store(s.lb.StoreID())
	start := time.Now()
	got, from := 0, uint64(0)
	for {
		page, err := st.Read(ctx, stream, client.ReadOptions{MaxCount: maxReadPage, From: client.Revision(from)})
		if err != nil {
			return 0, got, err
		}
		for i := range page.Events {
			if page.Events[i].Revision != uint64(got) {
				return 0, got, fmt.Errorf("event %d has revision %d", got, page.Events[i].Revision)
			}
			got++
		}
		if page.EndOfStream || len(page.Events) == 0 {
			break
		}
		from = page.NextRevision
	}
	return time.Since(start), got, nil
}

func (s *logbookSystem) close() {
	s.reader.Close()
	s.lb.Close()
}

type logbookAppender struct {
	c  *client.Client
	st *client.Store
}

func (a *logbookAppender) Append(ctx context.Context, s *streamState, data []byte) error {
	last, err := benchkit.AppendExpecting(ctx, a.st, s.name, s.exists, s.last, data)
	if err != nil {
		return err
	}
	s.exists, s.last = true, last
	return nil
}

func (a *logbookAppender) Lookup(ctx context.Context, s *streamState) error {
	exists, last, err := benchkit.LastRevision(ctx, a.st, s.name)
	if err == nil {
		s.exists, s.last = exists, last
	}
	return err
}

func (a *logbookAppender) Close() { a.c.Close() }

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/logbookdb/logbook/tools/internal/benchkit"
)

// logbookSystem is a single-node Logbook started in this process (embedded
// NATS, storenode, gateway), reached by the clients over TCP like any client.
type logbookSystem struct {
	lb     *embed.Logbook
	reader *client.Client
}

// maxReadPage is the server's largest page (wire.DefaultLimits().MaxReadCount).
const maxReadPage = 4096

func startLogbook(ctx context.Context, dir string, logger *slog.Logger) (*logbookSystem, error) {
	raft, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	lb, err := embed.Start(ctx, embed.Config{
		DataDir:     filepath.Join(dir, "logbook"),
		NATSPort:    -1,
		RaftAddress: raft,
		Logger:      logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start logbook: %w", err)
	}
	s := &logbookSystem{lb: lb}
	if s.reader, err = client.Connect(lb.ClientURL()); err != nil {
		lb.Close()
		return nil, err
	}
	return s, nil
}

func (s *logbookSystem) name() string { return "logbook" }

func (s *logbookSystem) streamName(scenario string, i int) string {
	return fmt.Sprintf("%s-s%04d", scenario, i)
}

func (s *logbookSystem) newAppender() (appender, error) {
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

func (a *logbookAppender) append(ctx context.Context, s *streamState, data []byte) error {
	exp := client.NoStream
	if s.exists {
		exp = client.Exact(s.last)
	}
	res, err := a.st.Append(ctx, s.name, exp, client.Event{Type: "bench", Data: data})
	if err != nil {
		return err
	}
	s.exists, s.last = true, res.LastRevision
	return nil
}

func (a *logbookAppender) lookup(ctx context.Context, s *streamState) error {
	info, err := a.st.StreamInfo(ctx, s.name)
	if errors.Is(err, client.ErrStreamNotFound) {
		s.exists, s.last = false, 0
		return nil
	}
	if err != nil {
		return err
	}
	s.exists, s.last = true, info.LastRevision
	return nil
}

func (a *logbookAppender) close() { a.c.Close() }

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const jsStream = "BENCH"

// jetstreamSystem is an embedded nats-server with JetStream on file storage,
// with one of the sync settings (benchkit.SyncAlways: every write fsynced;
// benchkit.SyncDefault: fsynced every 2 minutes), and one R1 stream BENCH on
// subjects bench.>.
type jetstreamSystem struct {
	named
	*benchkit.JetStream
}

func startJetStream(ctx context.Context, dir, sync string) (*jetstreamSystem, error) {
	name := benchkit.JetStreamName(sync)
	js, err := benchkit.StartJetStream(ctx, "lbbench-"+name, dir, sync, jsStream, "bench.>")
	if err != nil {
		return nil, err
	}
	return &jetstreamSystem{named{name, "bench.%s.s%04d"}, js}, nil
}

func (s *jetstreamSystem) newAppender(int) (appender, error) {
	nc, js, err := benchkit.ConnectJetStream(s.Server.ClientURL())
	if err != nil {
		return nil, err
	}
	return &jetstreamAppender{nc: nc, js: js}, nil
}

func (s *jetstreamSystem) writeStream(ctx context.Context, subject string, n int, data []byte) error {
	for i := range n {
		opts := []jetstream.PublishOpt{}
		if i == 0 { // a fresh subject; the rest are pipelined, unchecked
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(0))
		}
		if _, err := s.JS.PublishAsync(subject, data, opts...); err != nil {
			return err
		}
	}
	got, err := s.Flush(ctx)
	if err != nil {
		return err
	}
	if got < uint64(n) {
		return fmt.Errorf("stream holds %d messages after writing %d", got, n)
	}
	return nil
}

// readStream reads the subject from its start with an ordered consumer,
// created inside the timed section: reading a stream from JetStream needs one.
func (s *jetstreamSystem) readStream(ctx context.Context, subject string, n int) (time.Duration, int, error) {
	d, err := s.Replay(ctx, subject, n, min(n, maxReadPage), func(int, jetstream.Msg) {})
	if err != nil {
		return 0, 0, err
	}
	return d, n, nil
}

func (s *jetstreamSystem) close() { s.Close() }

type jetstreamAppender struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream // for lookups, fetched on first use
}

// Append publishes with Nats-Expected-Last-Subject-Sequence (0: no message
// on the subject yet) and waits for the PubAck.
func (a *jetstreamAppender) Append(ctx context.Context, s *streamState, data []byte) error {
	seq, err := benchkit.PublishExpecting(ctx, a.js, s.name, s.last, data)
	if err != nil {
		return err
	}
	s.exists, s.last = true, seq
	return nil
}

func (a *jetstreamAppender) Lookup(ctx context.Context, s *streamState) error {
	if a.stream == nil {
		st, err := a.js.Stream(ctx, jsStream)
		if err != nil {
			return err
		}
		a.stream = st
	}
	exists, last, err := benchkit.LastOnSubject(ctx, a.stream, s.name)
	if err == nil {
		s.exists, s.last = exists, last
	}
	return err
}

func (a *jetstreamAppender) Close() { a.nc.Close() }

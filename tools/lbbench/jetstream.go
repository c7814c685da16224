package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const jsStream = "BENCH"

// jetstreamSystem is an embedded nats-server with JetStream on file storage,
// every write fsynced (the Options equivalent of `sync_interval: always`),
// and one R1 stream BENCH on subjects bench.>.
type jetstreamSystem struct {
	ns *server.Server
	nc *nats.Conn // for setup and reads
	js jetstream.JetStream
}

func startJetStream(ctx context.Context, dir string) (*jetstreamSystem, error) {
	opts := &server.Options{
		ServerName: "lbbench-jetstream",
		Host:       "127.0.0.1",
		Port:       -1,
		NoSigs:     true,
		NoLog:      true,
		JetStream:  true,
		StoreDir:   filepath.Join(dir, "jetstream"),
		// sync_interval: always sets both (server/opts.go); the interval
		// is then only the periodic sync of idle blocks.
		SyncAlways:   true,
		SyncInterval: 2 * time.Minute,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("start jetstream: server not ready after 10s")
	}
	s := &jetstreamSystem{ns: ns}
	fail := func(err error) (*jetstreamSystem, error) {
		s.close()
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	if s.nc, err = nats.Connect(ns.ClientURL()); err != nil {
		return fail(err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return fail(err)
	}
	_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     jsStream,
		Subjects: []string{"bench.>"},
		Storage:  jetstream.FileStorage,
		Replicas: 1,
	})
	if err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *jetstreamSystem) name() string { return "jetstream" }

func (s *jetstreamSystem) streamName(scenario string, i int) string {
	return fmt.Sprintf("bench.%s.s%04d", scenario, i)
}

func (s *jetstreamSystem) newAppender() (appender, error) {
	nc, err := nats.Connect(s.ns.ClientURL())
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
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
		if _, err := s.js.PublishAsync(subject, data, opts...); err != nil {
			return err
		}
	}
	select {
	case <-s.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	info, err := s.js.Stream(ctx, jsStream)
	if err != nil {
		return err
	}
	if got := info.CachedInfo().State.Msgs; got < uint64(n) {
		return fmt.Errorf("stream holds %d messages after writing %d", got, n)
	}
	return nil
}

// readStream reads the subject from its start with an ordered consumer,
// created inside the timed section: reading a stream from JetStream needs one.
func (s *jetstreamSystem) readStream(ctx context.Context, subject string, n int) (time.Duration, int, error) {
	start := time.Now()
	cons, err := s.js.OrderedConsumer(ctx, jsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return 0, 0, err
	}
	done := make(chan struct{})
	got := 0
	cc, err := cons.Consume(func(m jetstream.Msg) {
		got++
		if got == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(min(n, maxReadPage)))
	if err != nil {
		return 0, 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	d := time.Since(start)
	cc.Stop()
	<-cc.Closed()
	// Ordered consumers are ephemeral but linger until their inactivity
	// threshold; remove this one now so reads don't pile consumers up.
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.js.DeleteConsumer(dctx, jsStream, cons.CachedInfo().Name)
	cancel()
	if ctx.Err() != nil {
		return 0, 0, fmt.Errorf("%d of %d messages before the deadline: %w", got, n, ctx.Err())
	}
	return d, n, nil
}

func (s *jetstreamSystem) close() {
	if s.nc != nil {
		s.nc.Close()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

type jetstreamAppender struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream // for lookups, fetched on first use
}

// append publishes with Nats-Expected-Last-Subject-Sequence (0: no message
// on the subject yet) and waits for the PubAck.
func (a *jetstreamAppender) append(ctx context.Context, s *streamState, data []byte) error {
	ack, err := a.js.PublishMsg(ctx, &nats.Msg{Subject: s.name, Data: data, Header: nats.Header{}},
		jetstream.WithExpectLastSequencePerSubject(s.last))
	if err != nil {
		return err
	}
	s.exists, s.last = true, ack.Sequence
	return nil
}

func (a *jetstreamAppender) lookup(ctx context.Context, s *streamState) error {
	if a.stream == nil {
		st, err := a.js.Stream(ctx, jsStream)
		if err != nil {
			return err
		}
		a.stream = st
	}
	m, err := a.stream.GetLastMsgForSubject(ctx, s.name)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.exists, s.last = false, 0
		return nil
	}
	if err != nil {
		return err
	}
	s.exists, s.last = true, m.Sequence
	return nil
}

func (a *jetstreamAppender) close() { a.nc.Close() }

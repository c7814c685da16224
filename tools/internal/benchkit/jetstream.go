package benchkit

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

// JetStream is an embedded nats-server in this process on 127.0.0.1 with
// JetStream on file storage, holding one R1 stream; with SyncAlways every
// write is fsynced (the Options equivalent of `sync_interval: always`), with
// SyncDefault the file store is fsynced every 2 minutes (JetStream's default).
type JetStream struct {
	Server *server.Server
	Conn   *nats.Conn // for setup and reads
	JS     jetstream.JetStream
	Stream string
}

// StartJetStream starts the server (named name, data under dir/<name>)
// with the fsync setting sync (SyncAlways or SyncDefault) and creates the
// stream on subjects.
func StartJetStream(ctx context.Context, name, dir, sync, stream, subjects string) (*JetStream, error) {
	opts := &server.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: filepath.Join(dir, name),
	}
	switch sync {
	case SyncAlways:
		// sync_interval: always sets both (server/opts.go); the interval
		// is then only the periodic sync of idle blocks.
		opts.SyncAlways, opts.SyncInterval = true, 2*time.Minute
	case SyncDefault:
		// Left unset: the server's default interval (2 minutes).
	default:
		return nil, fmt.Errorf("start jetstream: unknown sync setting %q", sync)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	go ns.Start() // stopped by Close
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("start jetstream: server not ready after 10s")
	}
	s := &JetStream{Server: ns, Stream: stream}
	fail := func(err error) (*JetStream, error) {
		s.Close()
		return nil, fmt.Errorf("start jetstream: %w", err)
	}
	if s.Conn, err = nats.Connect(ns.ClientURL()); err != nil {
		return fail(err)
	}
	if s.JS, err = jetstream.New(s.Conn); err != nil {
		return fail(err)
	}
	if _, err = s.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subjects}, Storage: jetstream.FileStorage, Replicas: 1,
	}); err != nil {
		return fail(err)
	}
	return s, nil
}

// Close closes the connection and stops the server.
func (s *JetStream) Close() {
	if s.Conn != nil {
		s.Conn.Close()
	}
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Flush waits until every asynchronous publish is acknowledged, then
// returns the number of messages in the stream.
func (s *JetStream) Flush(ctx context.Context) (uint64, error) {
	select {
	case <-s.JS.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	info, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return 0, err
	}
	return info.CachedInfo().State.Msgs, nil
}

// Replay reads the stream (only subject, unless it is "") from its start
// with an ordered consumer, created inside the timed section as reading a
// stream from JetStream needs one, pulling up to batch messages at a time,
// until n messages have arrived; each is called with each one and its
// number (1, 2, ...). It returns the time taken.
func (s *JetStream) Replay(ctx context.Context, subject string, n, batch int, each func(i int, m jetstream.Msg)) (time.Duration, error) {
	start := time.Now()
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := s.JS.OrderedConsumer(ctx, s.Stream, cfg)
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	got := 0
	cc, err := cons.Consume(func(m jetstream.Msg) {
		got++
		each(got, m)
		if got == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(batch))
	if err != nil {
		return 0, err
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
	s.JS.DeleteConsumer(dctx, s.Stream, cons.CachedInfo().Name)
	cancel()
	if ctx.Err() != nil {
		return 0, fmt.Errorf("%d of %d messages before the deadline: %w", got, n, ctx.Err())
	}
	return d, nil
}

// PublishExpecting publishes data to subject with
// Nats-Expected-Last-Subject-Sequence last (0: no message on the subject
// yet), waits for the PubAck and returns the new message's sequence.
func PublishExpecting(ctx context.Context, js jetstream.JetStream, subject string, last uint64, data []byte) (uint64, error) {
	ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}},
		jetstream.WithExpectLastSequencePerSubject(last))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// ConnectJetStream opens a NATS connection of its own to url and its
// JetStream context.
func ConnectJetStream(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// LastOnSubject returns whether subject has a message in st, and the stream
// sequence of its last one.
func LastOnSubject(ctx context.Context, st jetstream.Stream, subject string) (bool, uint64, error) {
	m, err := st.GetLastMsgForSubject(ctx, subject)
	return found(err, jetstream.ErrMsgNotFound, func() uint64 { return m.Sequence })
}

// found turns the answer to a lookup into (exists, last): notFound means
// there is nothing; last is only called when there is no error.
func found(err, notFound error, last func() uint64) (bool, uint64, error) {
	switch {
	case errors.Is(err, notFound):
		return false, 0, nil
	case err != nil:
		return false, 0, err
	}
	return true, last(), nil
}

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/tools/internal/benchkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const jsStream = "PSUB"

// jetstreamSystem is an embedded nats-server with JetStream on file storage
// (one of the sync settings) and one R1 stream PSUB on psub.>; each
// scenario gets a durable pull consumer with explicit acks.
type jetstreamSystem struct {
	sysName string
	js      *benchkit.JetStream
}

func startJetStream(ctx context.Context, dir, setting string) (*jetstreamSystem, error) {
	name := benchkit.JetStreamName(setting)
	js, err := benchkit.StartJetStream(ctx, "lbpsub-"+name, dir, setting, jsStream, "psub.>")
	if err != nil {
		return nil, err
	}
	return &jetstreamSystem{sysName: name, js: js}, nil
}

func (s *jetstreamSystem) name() string { return s.sysName }

func (s *jetstreamSystem) close() { s.js.Close() }

func (s *jetstreamSystem) run(ctx context.Context, sc scenario) (result, error) {
	res := result{System: s.name(), Consumers: sc.consumers, Events: sc.events}
	durable := "bench-" + sc.tag
	// Created before the backlog is written, delivering new messages only:
	// exactly this scenario's.
	cfg := jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: "psub." + sc.tag + ".>",
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: sc.inFlight * sc.consumers,
	}
	if _, err := s.js.JS.CreateConsumer(ctx, jsStream, cfg); err != nil {
		return res, fmt.Errorf("create consumer: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.js.JS.DeleteConsumer(dctx, jsStream, durable)
		cancel()
	}()
	data := benchkit.Payload(sc.size)
	for i := range sc.events {
		if _, err := s.js.JS.PublishAsync(fmt.Sprintf("psub.%s.s%d", sc.tag, (i/50)%streams), data); err != nil {
			return res, err
		}
		if i%1024 == 1023 { // stay under the async publish window
			select {
			case <-s.js.JS.PublishAsyncComplete():
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	if _, err := s.js.Flush(ctx); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}

	delivered := newSettled()
	backlog := delivered.expect(sc.events)
	var redelivered atomic.Int64
	var liveMu sync.Mutex
	var live benchkit.Latencies
	errs := make(chan error, sc.consumers)
	start := time.Now()
	for range sc.consumers {
		nc, js, err := benchkit.ConnectJetStream(s.js.Server.ClientURL())
		if err != nil {
			return res, err
		}
		defer nc.Close()
		cons, err := js.Consumer(ctx, jsStream, durable)
		if err != nil {
			return res, err
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			md, err := m.Metadata()
			if err != nil {
				errs <- err
				return
			}
			if md.NumDelivered > 1 {
				redelivered.Add(1)
			} else if strings.Contains(m.Subject(), ".live") {
				d := sinceStamp(m.Data())
				liveMu.Lock()
				live = append(live, d)
				liveMu.Unlock()
			}
			m.Ack() // sent, not waited for; the ack floor below confirms them
			delivered.add(md.Sequence.Stream)
		}, jetstream.PullMaxMessages(sc.inFlight))
		if err != nil {
			return res, err
		}
		defer cc.Stop()
	}
	if err := waitFor(ctx, backlog, errs, delivered, sc.events); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}
	if err := s.waitAcked(ctx, durable); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.PerSec = float64(sc.events) / res.Seconds

	// Live: one writer, one message per publish (waiting for its PubAck),
	// each carrying its send time.
	all := delivered.expect(sc.events + sc.live)
	for j := range sc.live {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.js.JS.PublishMsg(pctx, &nats.Msg{Subject: fmt.Sprintf("psub.%s.live%d", sc.tag, j%streams), Data: stamp(data)})
		cancel()
		if err != nil {
			return res, fmt.Errorf("live publish: %w", err)
		}
	}
	if err := waitFor(ctx, all, errs, delivered, sc.events+sc.live); err != nil {
		return res, fmt.Errorf("live: %w", err)
	}
	if err := s.waitAcked(ctx, durable); err != nil {
		return res, err
	}
	res.Redeliv = int(redelivered.Load())
	liveMu.Lock()
	res.setLive(live)
	liveMu.Unlock()
	return res, nil
}

// waitAcked waits until the consumer has nothing pending and nothing
// unacknowledged: the server processed every ack.
func (s *jetstreamSystem) waitAcked(ctx context.Context, durable string) error {
	for {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err := s.js.JS.Consumer(ictx, jsStream, durable)
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = cons.Info(ictx)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("consumer info: %w", err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d acks pending: %w", info.NumAckPending, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

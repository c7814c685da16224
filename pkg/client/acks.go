package client

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Acks of one consumer are carried together: while an ack request is on its
// way, the acks made meanwhile (a handler that acknowledges each message on
// a goroutine of its own, many messages in flight) queue, and the next
// request carries all of them (wire.AckRequest takes many positions). One
// request, one gateway hop and one leader round trip settle a batch instead
// of one event. Each Ack still returns its own event's outcome:
//
//   - the reply lists the positions that were not in flight; an event whose
//     position is not listed was settled;
//   - an event that was listed, or a whole batch answered with an error,
//     is acknowledged again alone, so that its caller gets exactly the
//     answer a request of its own would have got (event_already_acked,
//     event_not_in_flight, consumer_not_found, ...). Acknowledging an event
//     again is harmless: one that is not in flight is left alone.
//
// Only plain acks are batched; nacks (retry, park, skip, with a delay) go
// one request each, as before.

// ackSenders is how many ack requests of one consumer may be on their way
// at once.
const ackSenders = 4

// maxAckBatch bounds the positions of one ack request.
const maxAckBatch = 512

type ackWait struct {
	pos  int64
	done chan error // buffered: the sender never blocks on a caller that left
}

// acker batches the acks of one consumer; it runs while Consume runs.
type acker struct {
	c      *consumer
	ch     chan *ackWait
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool // under mu: nothing more is queued
}

// startAcker starts the senders; close stops them.
func startAcker(c *consumer) *acker {
	a := &acker{c: c, ch: make(chan *ackWait, 4*maxAckBatch), stop: make(chan struct{})}
	for range ackSenders {
		a.wg.Go(a.send)
	}
	return a
}

// close stops the senders once the acks queued are sent.
func (a *acker) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	a.wg.Wait()
}

// ack queues one ack and waits for its outcome; queued is false when the
// acker is stopped (the caller then sends the ack itself).
func (a *acker) ack(ctx context.Context, pos int64) (queued bool, err error) {
	w := &ackWait{pos: pos, done: make(chan error, 1)}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return false, nil
	}
	select {
	case a.ch <- w: // the senders run until close, which waits for this lock
	case <-ctx.Done():
		a.mu.RUnlock()
		return true, codes.New(codes.Timeout, "ack not sent before the deadline")
	}
	a.mu.RUnlock()
	select {
	case err := <-w.done:
		return true, err
	case <-ctx.Done():
		// The ack may still be made: its outcome is unknown, as for a
		// request whose answer did not come in time.
		return true, codes.New(codes.Timeout, "no answer before the deadline")
	}
}

// send carries the queued acks, a batch per request, until stopped; on
// stop it sends what is still queued.
func (a *acker) send() {
	for {
		var first *ackWait
		select {
		case first = <-a.ch:
		case <-a.stop:
			select {
			case first = <-a.ch:
			default:
				return
			}
		}
		batch := []*ackWait{first}
	fill:
		for len(batch) < maxAckBatch {
			select {
			case w := <-a.ch:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		a.sendBatch(batch)
	}
}

// sendBatch sends one request for batch and answers each waiter.
func (a *acker) sendBatch(batch []*ackWait) {
	ctx, cancel := context.WithTimeout(context.Background(), a.c.s.c.opts.timeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].done <- a.c.request(ctx, []int64{batch[0].pos}, wire.ActionAck, 0, nil)
		return
	}
	// Each position once: a second ack of the same event (made twice at
	// once) goes alone after this request, and so gets the answer it
	// would have got after the first (event_already_acked).
	positions := make([]int64, 0, len(batch))
	seen := make(map[int64]bool, len(batch))
	var again []*ackWait
	for _, w := range batch {
		if seen[w.pos] {
			again = append(again, w)
			continue
		}
		seen[w.pos] = true
		positions = append(positions, w.pos)
	}
	var out wire.AckReply
	err := a.c.request(ctx, positions, wire.ActionAck, 0, &out)
	for _, w := range batch {
		if slices.Contains(again, w) {
			continue
		}
		if err == nil && !slices.Contains(out.NotInFlight, uint64(w.pos)) {
			w.done <- nil
			continue
		}
		var e *codes.Error
		if err != nil && errors.As(err, &e) && e.Code == codes.ConsumerNotFound {
			w.done <- err // the same for every event of the consumer
			continue
		}
		// Not settled by this request, or the request failed: alone, for
		// its own answer.
		again = append(again, w)
	}
	for _, w := range again {
		w.done <- a.c.request(ctx, []int64{w.pos}, wire.ActionAck, 0, nil)
	}
}

// request sends one settle request for positions (reply in out, if set).
func (c *consumer) request(ctx context.Context, positions []int64, action string, delayMs int64, out *wire.AckReply) error {
	req := wire.AckRequest{Subscription: c.sub, Consumer: c.id, Positions: positions, Action: action}
	if action == wire.ActionRetryLater {
		req.DelayMs = &delayMs
	}
	if out == nil {
		out = &wire.AckReply{}
	}
	return c.s.request(ctx, subjects.OpPSubAck, &req, out)
}

// Package live publishes a store's committed events as they are applied: a
// leader task that publishes every committed event of the store once, in
// position order, on events.<store>.<category>.<stream>.<type>
// (pkg/subjects), with the headers of wire.LiveHeaders. See DESIGN.md and
// schemas/live-events.md.
//
// It runs off the append path: it wakes after each applied batch, reads
// what was applied since it last looked from the local state machine (a
// stale read is exact here: everything applied is committed) and
// publishes it with core NATS, at most once.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Env, set to "off", disables live event publication (to measure
// its cost; see docs/benchmarks-live.md). Read when a node gains leadership
// of a store.
const Env = "LOGBOOK_LIVE_EVENTS"

const (
	// livePage is how many events one local read fetches.
	livePage = 1024
	// liveMaxKeys bounds the categories and event types whose last position
	// the publisher remembers; past it, a new epoch starts (consumers then
	// check for a gap once per category or type, which costs a read at most).
	liveMaxKeys = 1 << 16
	// liveLookback: see head.
	liveLookback = time.Second
	// liveDrain bounds the final publication when the task stops.
	liveDrain = 200 * time.Millisecond
)

// Store is the replica whose events are published (a *replica.Replica).
type Store interface {
	Spec() replica.Spec
	// StaleRead queries the replica's state as applied so far.
	StaleRead(q any) (any, error)
	// Applied returns a channel closed when the next batch is applied.
	Applied() <-chan struct{}
	// SetLivePublished records how far publication is (the metrics' lag).
	SetLivePublished(next uint64, running bool)
}

// Conn publishes messages (a *nats.Conn).
type Conn interface {
	PublishMsg(m *nats.Msg) error
}

// Publisher publishes the events of the stores this node leads.
type Publisher struct {
	nc  Conn
	log *slog.Logger
}

// New returns a publisher on nc.
func New(nc Conn, log *slog.Logger) *Publisher { return &Publisher{nc: nc, log: log} }

// store publishes one store's events for one leadership.
type store struct {
	*Publisher
	s     Store
	id    string
	epoch string
	start uint64 // first position of the epoch
	next  uint64 // next position to publish
	cats  map[string]uint64
	types map[string]uint64
}

// Run is the leader task: it publishes s's events until ctx ends (this
// node stops leading the store).
func (pub *Publisher) Run(ctx context.Context, s Store) {
	if os.Getenv(Env) == "off" {
		return
	}
	p := &store{Publisher: pub, s: s, id: s.Spec().ID}
	defer s.SetLivePublished(0, false)
	var backoff replica.Backoff
	for {
		head, err := p.head()
		if err == nil {
			p.newEpoch(head)
			break
		}
		p.log.Debug("live events: cannot read the store's head yet", "store", p.id, "err", err)
		if !backoff.Wait(ctx) {
			return
		}
	}
	p.log.Debug("live events: publishing", "store", p.id, "epoch", p.epoch, "from", p.start)
	backoff.Reset()
	for {
		// Take the wake-up channel before reading, so that a batch applied
		// during the read wakes the next wait.
		wake := s.Applied()
		more, err := p.publishPage()
		s.SetLivePublished(p.next, true)
		if ctx.Err() != nil {
			p.drain()
			return
		}
		if ce := codes.As(err); ce != nil && ce.Code == codes.StoreRestoring {
			// A restore writes history, not news: publish from the head
			// the store has once it completes (a new epoch).
			if !backoff.Wait(ctx) {
				return
			}
			if end, err := p.end(); err == nil {
				p.newEpoch(end)
			}
			continue
		}
		if err != nil {
			p.log.Warn("live events: local read failed", "store", p.id, "from", p.next, "err", err)
			if !backoff.Wait(ctx) {
				return
			}
			continue
		}
		backoff.Reset()
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			p.drain()
			return
		case <-wake:
		}
	}
}

// drain publishes, when the task is being stopped (leadership lost, store
// or node closing), what this replica applied and has not published yet,
// within liveDrain: the events are committed, and publishing them now
// spares every consumer a read after a graceful hand-over. It gives up at
// the first failed read (the replica may be stopping).
func (p *store) drain() {
	deadline := time.Now().Add(liveDrain)
	for time.Now().Before(deadline) {
		more, err := p.publishPage()
		if err != nil || !more {
			return
		}
	}
}

// newEpoch starts publishing under a new random epoch id from position start.
func (p *store) newEpoch(start uint64) {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	p.epoch = hex.EncodeToString(b[:])
	p.start, p.next = start, start
	p.cats = map[string]uint64{}
	p.types = map[string]uint64{}
}

// head is where a new epoch starts: the next position of the store as this
// replica has applied it, moved back over the events committed in the last
// liveLookback (at most livePage of them). The leader serves appends from
// the moment it subscribes to its request subject, a little before this
// task reads the head; without the look-back the events appended in
// between would never be published. Publishing a few older events again is
// harmless: consumers drop positions they have.
func (p *store) head() (uint64, error) {
	since := time.Now().Add(-liveLookback).UnixNano()
	page, err := raft.As[*sm.AllPage](p.s.StaleRead(sm.ReadAll{Backward: true, Count: livePage}))
	if err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	if len(page.Events) == 0 {
		return 0, nil
	}
	start := page.Events[0].Position + 1
	for _, ev := range page.Events { // newest first
		if ev.Timestamp < since {
			break
		}
		start = ev.Position
	}
	return start, nil
}

// publishPage publishes the next page of applied events; more is true when
// the page did not reach the end of the store.
// end returns the store's next position, without the look-back of head: a
// restored store's events are history, whoever leads it.
func (p *store) end() (uint64, error) {
	page, err := raft.As[*sm.AllPage](p.s.StaleRead(sm.ReadAll{Backward: true, Count: 1}))
	if err != nil {
		return 0, fmt.Errorf("read end: %w", err)
	}
	if len(page.Events) == 0 {
		return 0, nil
	}
	return page.Events[0].Position + 1, nil
}

func (p *store) publishPage() (more bool, err error) {
	from := p.next
	page, err := raft.As[*sm.AllPage](p.s.StaleRead(sm.ReadAll{From: &from, Count: livePage}))
	if err != nil {
		return false, fmt.Errorf("read from %d: %w", p.next, err)
	}
	for i := range page.Events {
		ev := wire.RecordedEvent(page.Events[i])
		p.publish(&ev)
	}
	return !page.EndOfStore, nil
}

func (p *store) publish(ev *wire.RecordedEvent) {
	if ev.Position != p.next {
		// Positions are dense; a hole here is a bug. Consumers see it as a
		// position jump and read.
		p.log.Error("live events: position out of sequence", "store", p.id, "want", p.next, "got", ev.Position)
	}
	if len(p.cats) >= liveMaxKeys || len(p.types) >= liveMaxKeys {
		p.newEpoch(ev.Position)
	}
	cat := wire.Category(ev.Stream)
	h := wire.LiveHeaders{Position: ev.Position, Revision: ev.Revision, Epoch: p.epoch, EpochStart: p.start}
	if q, ok := p.cats[cat]; ok {
		h.PrevCategory = &q
	}
	if q, ok := p.types[ev.Type]; ok {
		h.PrevType = &q
	}
	p.cats[cat], p.types[ev.Type] = ev.Position, ev.Position
	p.next = ev.Position + 1
	data, err := wire.Marshal(ev)
	if err == nil {
		err = p.nc.PublishMsg(&nats.Msg{
			Subject: subjects.Event(p.id, ev.Stream, ev.Type),
			Header:  h.Header(),
			Data:    data,
		})
	}
	if err != nil {
		// At most once: the event is not sent again; consumers detect the
		// hole with the next event's headers (or their idle check) and read.
		p.log.Debug("live events: publish failed", "store", p.id, "position", ev.Position, "err", err)
	}
}

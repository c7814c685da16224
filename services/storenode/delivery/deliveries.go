// Package delivery delivers persistent subscriptions on the stores this node
// leads: one manager per store, run as a leader task, does the I/O — reads
// ahead with local StaleReads, proposes progress (OpPSubProgress), publishes
// deliveries on NATS, serves join, ack and replay — and leaves every
// delivery decision to the pure core of package psub, which holds each
// subscription's delivery state in memory. Only what must survive a leader
// change is replicated: the checkpoint, the delivered high-water mark and
// parked events. See DESIGN.md, schemas/persistent-subscriptions.md and
// services/storenode/psub/DESIGN.md.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/psub"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Store is the replica a manager delivers from (a *replica.Replica).
type Store interface {
	Spec() replica.Spec
	// Submit proposes a command through the store's proposer.
	Submit(ctx context.Context, cmd sm.Command, size int) (sm.Result, error)
	// Read is a linearizable query; StaleRead reads what is applied here.
	Read(ctx context.Context, q any) (any, error)
	StaleRead(q any) (any, error)
	// Applied returns a channel closed when the next batch is applied.
	Applied() <-chan struct{}
}

// Conn publishes deliveries (a *nats.Conn).
type Conn interface {
	Publish(subject string, data []byte) error
}

// Deliveries holds the delivery manager of every store this node leads,
// for the request handlers (join, ack, replay, info).
type Deliveries struct {
	nc  Conn
	log *slog.Logger

	mu       sync.Mutex
	managers map[string]*manager // by store id, while its Run runs
}

// New returns the deliveries, publishing on nc.
func New(nc Conn, log *slog.Logger) *Deliveries {
	return &Deliveries{nc: nc, log: log, managers: map[string]*manager{}}
}

// Run is the leader task: it delivers s's subscriptions until ctx ends
// (this node stops leading the store).
func (d *Deliveries) Run(ctx context.Context, s Store) {
	m := &manager{d: d, s: s, id: s.Spec().ID, kick: make(chan struct{}, 1), core: psub.New(time.Now), defs: map[string]*sm.PSub{}}
	// Registered before the first load, so that a definition changed
	// meanwhile marks it stale (handlers reload on their own when needed).
	d.mu.Lock()
	d.managers[m.id] = m
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.managers[m.id] == m {
			delete(d.managers, m.id)
		}
		d.mu.Unlock()
	}()
	m.run(ctx)
}

func (d *Deliveries) of(store string) *manager {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.managers[store]
}

// delivering returns the store's manager, or not_written while it starts
// (just after a leader change); clients retry it.
func (d *Deliveries) delivering(store string) (*manager, error) {
	m := d.of(store)
	if m == nil {
		return nil, codes.New(codes.NotWritten, "persistent subscription delivery is starting on store %q", store)
	}
	return m, nil
}

// Join joins a consumer to a subscription, or renews its heartbeat.
func (d *Deliveries) Join(ctx context.Context, store string, req *wire.JoinRequest, heartbeatMs int64) (*wire.JoinReply, error) {
	m, err := d.delivering(store)
	if err != nil {
		return nil, err
	}
	return m.join(ctx, req, heartbeatMs)
}

// Ack settles (or retries, parks...) events a consumer holds.
func (d *Deliveries) Ack(ctx context.Context, store string, req *wire.AckRequest, delayMs int64) (*wire.AckReply, error) {
	m, err := d.delivering(store)
	if err != nil {
		return nil, err
	}
	return m.ack(ctx, req, delayMs)
}

// Replay queues up to count parked events of a subscription for delivery again.
func (d *Deliveries) Replay(ctx context.Context, store, subscription string, count int) (*wire.ReplayReply, error) {
	m, err := d.delivering(store)
	if err != nil {
		return nil, err
	}
	return m.replay(ctx, subscription, count)
}

// Live fills in an info's delivery state, when this node delivers the store.
func (d *Deliveries) Live(store string, info *wire.SubscriptionInfo, gen uint64) {
	if m := d.of(store); m != nil {
		m.live(info, gen)
	}
}

// Counts returns the events of the store's subscriptions in flight and
// waiting, when this node delivers the store (ok false otherwise).
func (d *Deliveries) Counts(store string) (inFlight, waiting uint64, ok bool) {
	m := d.of(store)
	if m == nil {
		return 0, 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inFlight, waiting = m.core.Counts()
	return inFlight, waiting, true
}

// DefinitionsChanged makes the store's next delivery round reload the
// definitions, when this node delivers the store.
func (d *Deliveries) DefinitionsChanged(store string) {
	if m := d.of(store); m != nil {
		m.definitionsChanged()
	}
}

// Busy reports whether this node delivers the store's persistent
// subscriptions (it leads the store and it has some): such a store's
// replica here stays running while idle, for its consumers' joins and
// acks (replica/DESIGN.md, "Dormant stores").
func (d *Deliveries) Busy(store string) bool {
	m := d.of(store)
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.core.Empty()
}

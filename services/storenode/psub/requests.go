package psub

import (
	"slices"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// live returns the live subscription name, or subscription_not_found.
func (d *Deliverer) live(name string) (*sub, error) {
	s := d.subs[name]
	if s == nil || s.dead {
		return nil, NotFound(name)
	}
	return s, nil
}

// Join joins a consumer (or renews it: a heartbeat) and points its
// deliveries at deliver; joined reports whether it was not joined before.
func (d *Deliverer) Join(name, id, deliver string, heartbeat time.Duration) (joined bool, err error) {
	s, err := d.live(name)
	if err != nil {
		return false, err
	}
	c := s.consumers[id]
	joined = c == nil
	if joined {
		c = &consumer{id: id}
		// Deliveries still held under this id (by an earlier incarnation
		// that expired) count against its room until they time out.
		for e := range s.all() {
			if e.consumer == id {
				c.inflight++
			}
		}
		s.consumers[id] = c
	}
	c.deliver, c.heartbeat, c.lastSeen = deliver, heartbeat, d.now()
	return joined, nil
}

// Ack settles the events at positions held by consumer id with action (a
// wire.Action*): ack and skip finish them, park parks them, retry and
// retry_later (after delay) put them back to waiting, or park them once
// their deliveries are used up. When none was held by id the answer is
// consumer_not_found, event_already_acked or event_not_in_flight.
func (d *Deliverer) Ack(name, id string, positions []int64, action string, delay time.Duration) (*wire.AckReply, error) {
	s, err := d.live(name)
	if err != nil {
		return nil, err
	}
	c := s.consumers[id]
	heldByID := func(e *event) bool { return e.consumer == id }
	reply := &wire.AckReply{}
	settledBefore := 0
	now := d.now()
	for _, p := range positions {
		pos := uint64(p)
		e := s.find(pos, heldByID)
		if e == nil {
			reply.NotInFlight = append(reply.NotInFlight, pos)
			if pos < s.next && s.find(pos, anyEvent) == nil {
				settledBefore++
			}
			continue
		}
		reply.Done++
		if c != nil {
			c.inflight--
		}
		e.consumer = ""
		switch action {
		case wire.ActionAck, wire.ActionSkip:
			s.settle(e)
		case wire.ActionPark:
			s.park(e, wire.ParkedByNack)
		case wire.ActionRetry, wire.ActionRetryLater:
			if s.usedUp(e) {
				s.park(e, wire.ParkedByMaxRetries)
			} else if action == wire.ActionRetryLater {
				e.notBefore = now.Add(delay)
			}
		}
	}
	if reply.Done == 0 {
		switch {
		case c == nil:
			return nil, codes.New(codes.ConsumerNotFound, "consumer %q has not joined subscription %q on this leader; join again", id, name)
		case settledBefore == len(positions):
			return nil, codes.New(codes.EventAlreadyAcked, "the events at %v were already settled", positions)
		default:
			return nil, codes.New(codes.EventNotInFlight, "no event at %v is in flight to consumer %q", positions, id)
		}
	}
	return reply, nil
}

// StartReplay begins a replay of name's parked events: the caller reads
// them (leaving out q.Skip) and hands them to Replay.
func (d *Deliverer) StartReplay(name string) (*ReplayQuery, error) {
	s := d.subs[name]
	if s == nil {
		return nil, NotFound(name)
	}
	skip := map[uint64]bool{}
	for _, e := range s.replays {
		skip[e.ev.Position] = true
	}
	return &ReplayQuery{Name: name, Skip: skip, s: s}, nil
}

// Replay queues the parked events read for q for delivery again, each with
// a fresh allowance of deliveries, and returns how many it queued.
func (d *Deliverer) Replay(q *ReplayQuery, parked []Parked) (uint64, error) {
	s := q.s
	if d.subs[q.Name] != s || s.dead {
		return 0, NotFound(q.Name)
	}
	var n uint64
	for _, pe := range parked {
		if slices.ContainsFunc(s.replays, func(e *event) bool { return e.ev.Position == pe.Event.Position }) {
			continue
		}
		// A parked event that was unparked meanwhile (acked in an earlier
		// replay whose progress is not replicated yet) is not replayed twice.
		if slices.Contains(s.unparks, pe.Event.Position) {
			continue
		}
		c := pe.DeliveryCount
		s.replays = append(s.replays, &event{ev: pe.Event, count: c, base: c, replay: true})
		n++
	}
	return n, nil
}

// Info fills in info's live delivery state (in flight, waiting, consumers)
// when name is loaded with generation gen.
func (d *Deliverer) Info(name string, gen uint64, info *wire.SubscriptionInfo) {
	s := d.subs[name]
	if s == nil || s.def.Gen != gen {
		return
	}
	for e := range s.all() {
		if e.consumer != "" {
			info.InFlight++
		} else {
			info.Waiting++
		}
	}
	for _, c := range s.sortedConsumers() {
		info.Consumers = append(info.Consumers, wire.ConsumerInfo{Consumer: c.id, InFlight: uint64(max(c.inflight, 0))})
	}
}

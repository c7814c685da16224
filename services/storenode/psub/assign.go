package psub

import (
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// Dispatch expires consumers, times out deliveries and hands waiting events
// to consumers with room; it returns the messages to publish. A message
// that is lost (or never published) comes back at its ack timeout.
func (d *Deliverer) Dispatch() []Delivery {
	now := d.now()
	var out []Delivery
	for _, name := range d.names() {
		s := d.subs[name]
		if s.dead {
			continue
		}
		s.expire(now)
		s.timeouts(now)
		out = append(out, s.assign(name, now)...)
	}
	return out
}

func (s *sub) assign(name string, now time.Time) []Delivery {
	cs := s.sortedConsumers()
	if len(cs) == 0 {
		return nil
	}
	var out []Delivery
	limit := int(s.def.Settings.MaxInFlight)
	deliver := func(e *event, c *consumer) {
		e.consumer, e.count = c.id, e.count+1
		e.deadline = now.Add(s.def.Settings.AckTimeout)
		c.inflight++
		out = append(out, Delivery{Subject: c.deliver, Message: wire.Delivery{
			Subscription: name, Event: e.ev, DeliveryCount: e.count, Redelivered: e.count > 1, Replay: e.replay}})
	}
	roundRobin := func(e *event) bool {
		for i := range cs {
			c := cs[(s.rr+i)%len(cs)]
			if c.inflight < limit {
				s.rr = (s.rr + i + 1) % len(cs)
				deliver(e, c)
				return true
			}
		}
		return false
	}
	// Replays go to whoever has room, whatever the strategy.
	for _, e := range s.replays {
		if e.consumer == "" && !now.Before(e.notBefore) && !roundRobin(e) {
			break
		}
	}
	if s.def.Settings.Strategy == wire.StrategyPinned {
		// One event per stream at a time, to the stream's consumer: a
		// stream's events reach one consumer in order, retries included.
		busy := map[string]bool{}
		for _, e := range s.events {
			st := e.ev.Stream
			if busy[st] {
				continue
			}
			busy[st] = true
			if e.consumer != "" || now.Before(e.notBefore) {
				continue
			}
			if c := pinnedConsumer(st, cs); c.inflight < limit {
				deliver(e, c)
			}
		}
		return out
	}
	for _, e := range s.events {
		if e.consumer == "" && !now.Before(e.notBefore) && !roundRobin(e) {
			break
		}
	}
	return out
}

// pinnedConsumer picks a stream's consumer by rendezvous hashing, so that a
// consumer joining or leaving moves only the streams it gains or loses.
func pinnedConsumer(stream string, cs []*consumer) *consumer {
	var best *consumer
	var bestScore uint64
	hs := fnv64(stream)
	for _, c := range cs {
		if score := mix64(hs ^ mix64(fnv64(c.id))); best == nil || score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// fnv64 is FNV-1a (hash/fnv's New64a), without its allocations: Dispatch
// hashes a stream and every consumer for each stream it looks at.
func fnv64(s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// mix64 is splitmix64's finaliser: every input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

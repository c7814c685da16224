package psub

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// sub is one subscription's delivery state.
type sub struct {
	def       Definition
	next      uint64 // every position below was read
	high      uint64 // replicated high-water mark
	wantHigh  uint64 // high-water mark to replicate before delivering what was read
	persisted uint64 // replicated checkpoint
	redeliver uint64 // events below may have been delivered by an earlier leader
	events    []*event
	bytes     int // payload of events
	replays   []*event
	consumers map[string]*consumer
	rr        int
	parks     []Park
	unparks   []uint64
	settled   int // since the last proposal
	lastFlush time.Time
	proposing bool // a Progress taken has not come back to Proposed yet
	dead      bool
}

type event struct {
	ev        wire.RecordedEvent
	count     uint64 // deliveries so far
	base      uint64 // deliveries that do not count against max_retries (replays)
	consumer  string // "" while waiting
	deadline  time.Time
	notBefore time.Time
	replay    bool
}

type consumer struct {
	id        string
	deliver   string
	heartbeat time.Duration
	lastSeen  time.Time
	inflight  int
}

func newSub(d Definition, now time.Time) *sub {
	return &sub{def: d, next: d.Checkpoint, high: d.High, wantHigh: d.High, persisted: d.Checkpoint,
		redeliver: d.High, consumers: map[string]*consumer{}, lastFlush: now}
}

func (s *sub) maxDeliveries() uint64 { return uint64(s.def.Settings.MaxRetries) + 1 }

// usedUp reports whether e has had every delivery it is allowed.
func (s *sub) usedUp(e *event) bool { return e.count-e.base >= s.maxDeliveries() }

// checkpoint is the position below which everything is settled.
func (s *sub) checkpoint() uint64 {
	if len(s.events) > 0 {
		return s.events[0].ev.Position
	}
	return s.next
}

// find returns the outstanding (read, unsettled) event at pos that passes
// ok, looking at replays first; or nil. The read events are in position
// order, one per position: a binary search, since every ack looks one up.
func (s *sub) find(pos uint64, ok func(*event) bool) *event {
	for _, e := range s.replays {
		if e.ev.Position == pos && ok(e) {
			return e
		}
	}
	if i, found := s.index(pos); found && ok(s.events[i]) {
		return s.events[i]
	}
	return nil
}

// index is where the read event at pos is in s.events, or would be.
func (s *sub) index(pos uint64) (int, bool) {
	return slices.BinarySearchFunc(s.events, pos, func(e *event, pos uint64) int { return cmp.Compare(e.ev.Position, pos) })
}

func anyEvent(*event) bool { return true }

// all yields every outstanding event: the read ones, then the replays.
func (s *sub) all() iter.Seq[*event] {
	return func(yield func(*event) bool) {
		for _, list := range [][]*event{s.events, s.replays} {
			for _, e := range list {
				if !yield(e) {
					return
				}
			}
		}
	}
}

func eventBytes(e *wire.RecordedEvent) int {
	return len(e.Data) + len(e.Metadata) + len(e.Type) + len(e.Stream) + 128
}

// remove takes e out of the outstanding lists.
func (s *sub) remove(e *event) {
	if e.replay {
		s.replays = slices.DeleteFunc(s.replays, func(x *event) bool { return x == e })
	} else {
		if i, found := s.index(e.ev.Position); found && s.events[i] == e {
			s.events = slices.Delete(s.events, i, i+1)
			s.bytes -= eventBytes(&e.ev)
		}
	}
	s.settled++
}

func (s *sub) park(e *event, reason string) {
	s.remove(e)
	s.parks = append(s.parks, Park{Position: e.ev.Position, Reason: reason, DeliveryCount: e.count})
}

// settle finishes e (ack or skip); a replayed event leaves the park.
func (s *sub) settle(e *event) {
	s.remove(e)
	if e.replay {
		s.unparks = append(s.unparks, e.ev.Position)
	}
}

// expire drops the consumers that missed LeaseBeats heartbeats; the events
// they hold come back at their ack timeout.
func (s *sub) expire(now time.Time) {
	for id, c := range s.consumers {
		if now.Sub(c.lastSeen) > LeaseBeats*c.heartbeat {
			delete(s.consumers, id)
		}
	}
}

// timeouts returns every delivery past its ack deadline to waiting (or to
// the park, once its deliveries are used up).
func (s *sub) timeouts(now time.Time) {
	// Found first, then handled: parking takes an event out of its list.
	// (Dispatch runs this every round: no copy of the lists when nothing
	// timed out.)
	var expired []*event
	for _, list := range [][]*event{s.events, s.replays} {
		for _, e := range list {
			if e.consumer != "" && now.After(e.deadline) {
				expired = append(expired, e)
			}
		}
	}
	for _, e := range expired {
		if c := s.consumers[e.consumer]; c != nil {
			c.inflight--
		}
		e.consumer = ""
		if s.usedUp(e) {
			s.park(e, wire.ParkedByMaxRetries)
		}
	}
}

func (s *sub) sortedConsumers() []*consumer {
	cs := make([]*consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	return cs
}

// dirty reports whether s has progress to replicate.
func (s *sub) dirty() bool {
	return s.checkpoint() != s.persisted || len(s.parks) > 0 || len(s.unparks) > 0 || s.wantHigh > s.high
}

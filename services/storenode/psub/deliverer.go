package psub

import (
	"slices"
	"sort"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
)

// Deliverer holds the delivery state of one store's subscriptions. It is not
// safe for concurrent use: its owner serialises calls (the leader's manager
// holds one lock around them).
type Deliverer struct {
	now  func() time.Time
	subs map[string]*sub
	// head is the store's next position as last seen; headMoved is set when
	// a batch was applied since, so that subscriptions at head look again.
	head      uint64
	headMoved bool
}

// New returns an empty Deliverer reading the time from now.
func New(now func() time.Time) *Deliverer {
	return &Deliverer{now: now, subs: map[string]*sub{}, headMoved: true}
}

// NotFound is the error of a subscription that does not exist.
func NotFound(name string) error {
	return codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", name)
}

// Load merges the replicated definitions: a known subscription of the same
// generation keeps its delivery state and takes the new settings; a new one
// (or a new generation) starts from its checkpoint; one missing is dropped.
func (d *Deliverer) Load(defs []Definition) {
	seen := map[string]bool{}
	for _, def := range defs {
		seen[def.Name] = true
		if s := d.subs[def.Name]; s != nil && s.def.Gen == def.Gen && !s.dead {
			s.def = def // settings may have changed
			continue
		}
		d.headMoved = true // a new subscription reads from its checkpoint
		d.subs[def.Name] = newSub(def, d.now())
	}
	for name := range d.subs {
		if !seen[name] {
			delete(d.subs, name)
		}
	}
}

// Live reports whether name is loaded and not known to be gone.
func (d *Deliverer) Live(name string) bool {
	s := d.subs[name]
	return s != nil && !s.dead
}

// Counts returns how many events of all the subscriptions are in flight
// (delivered, not yet acked) and waiting (read, not yet delivered).
func (d *Deliverer) Counts() (inFlight, waiting uint64) {
	for _, s := range d.subs {
		for e := range s.all() {
			if e.consumer != "" {
				inFlight++
			} else {
				waiting++
			}
		}
	}
	return inFlight, waiting
}

// Empty reports whether no subscription is loaded.
func (d *Deliverer) Empty() bool { return len(d.subs) == 0 }

// NeedsReload reports whether a subscription turned out to be gone (deleted,
// or deleted and created again): the definitions must be loaded again.
func (d *Deliverer) NeedsReload() bool {
	for _, s := range d.subs {
		if s.dead {
			return true
		}
	}
	return false
}

// HeadMoved records that the store appended events.
func (d *Deliverer) HeadMoved() { d.headMoved = true }

func (d *Deliverer) names() []string {
	names := make([]string, 0, len(d.subs))
	for name := range d.subs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ReadJobs returns a job for every subscription with room in its buffer and
// something to read (or, after HeadMoved, possibly something).
func (d *Deliverer) ReadJobs() []ReadJob {
	look := d.headMoved
	d.headMoved = false
	var jobs []ReadJob
	for _, name := range d.names() {
		s := d.subs[name]
		if room := Buffer - len(s.events); room > 0 && s.bytes < BufferBytes && !s.dead && (look || s.next < d.head) {
			jobs = append(jobs, ReadJob{Name: name, From: s.next, Room: room, s: s})
		}
	}
	return jobs
}

// current reports whether j still reads for the subscription it was made
// for, from where that subscription's reading stands.
func (d *Deliverer) current(j *ReadJob) bool {
	return d.subs[j.Name] == j.s && j.s.next == j.From
}

// Scanned takes in the result of reading for j. ok is false when the job is
// over (nothing new, or the subscription changed meanwhile). raise is true
// when the high-water mark must be replicated (TakeProgress, propose,
// Proposed) before Accept can take the events.
func (d *Deliverer) Scanned(j *ReadJob, sc Scan) (raise, ok bool) {
	d.head = max(d.head, sc.Head)
	if sc.Next == j.From || !d.current(j) {
		return false, false
	}
	raise = len(sc.Events) > 0 && sc.Next > j.s.high
	if raise {
		j.s.wantHigh = max(j.s.wantHigh, sc.Next+HighReserve)
	}
	return raise, true
}

// Accept buffers the events of sc, unless the job is stale or their
// high-water mark is not replicated; it reports whether to read on.
func (d *Deliverer) Accept(j *ReadJob, sc Scan) bool {
	s := j.s
	if !d.current(j) || s.high < sc.Next && len(sc.Events) > 0 {
		return false
	}
	for _, ev := range sc.Events {
		e := &event{ev: ev}
		if ev.Position < s.redeliver {
			e.count = 1 // may have been delivered before a leader change
		}
		s.events = append(s.events, e)
		s.bytes += eventBytes(&ev)
	}
	s.next = sc.Next
	j.Room -= len(sc.Events)
	j.From = sc.Next
	return j.Room > 0 && sc.Next < sc.Head && s.bytes < BufferBytes
}

// Due returns the subscriptions whose progress should be proposed now: some
// to replicate, and FlushEvery passed, FlushAcks events settled, or a
// high-water mark waiting.
func (d *Deliverer) Due() []string {
	now := d.now()
	var names []string
	for _, name := range d.names() {
		s := d.subs[name]
		due := now.Sub(s.lastFlush) >= FlushEvery || s.settled >= FlushAcks || s.wantHigh > s.high
		if s.dirty() && due && !s.dead && !s.proposing {
			names = append(names, name)
		}
	}
	return names
}

// TakeProgress hands over the progress of name to propose; ok is false if
// the subscription is not live, or if its last Progress taken has not come
// back yet: one proposal per subscription at a time, so that they apply in
// the order taken (checkpoint and high-water mark only move forward). Every
// Progress taken must be given back to Proposed.
func (d *Deliverer) TakeProgress(name string) (p Progress, ok bool) {
	s := d.subs[name]
	if s == nil || s.dead || s.proposing {
		return Progress{}, false
	}
	p = Progress{Name: name, Gen: s.def.Gen, Checkpoint: s.checkpoint(), High: max(s.wantHigh, s.high),
		Park: s.parks, Unpark: s.unparks, s: s}
	s.parks, s.unparks, s.settled, s.lastFlush = nil, nil, 0, d.now()
	s.proposing = true
	return p, true
}

// Proposed records the outcome of proposing p: err nil means replicated; a
// subscription_not_found error means the subscription is gone (NeedsReload);
// any other error puts p's parks and unparks back for the next proposal. It
// reports whether p was replicated.
func (d *Deliverer) Proposed(p Progress, err error) bool {
	s := p.s
	s.proposing = false
	if err != nil {
		if codes.As(err).Code == codes.SubscriptionNotFound {
			s.dead = true
			return false
		}
		s.parks = append(slices.Clip(p.Park), s.parks...)
		s.unparks = append(slices.Clip(p.Unpark), s.unparks...)
		return false
	}
	s.persisted = max(s.persisted, p.Checkpoint)
	s.high = max(s.high, p.High)
	return true
}

package node

// Persistent subscription delivery: one leader task per store (psubTask)
// runs on the store's leader for as long as it leads. It holds every
// subscription's delivery state in memory — the events read ahead of the
// checkpoint, which consumer holds which event and until when, the joined
// consumers — and replicates only what must survive a leader change through
// OpPSubProgress: the checkpoint, the delivered high-water mark, and parked
// events. See schemas/persistent-subscriptions.md.
//
// Invariants:
//   - Every matching event at or above the replicated checkpoint is either
//     outstanding here (waiting or in flight) or not read yet; so a new
//     leader that starts from the checkpoint loses nothing and skips nothing.
//   - An event is parked in the same Raft entry as the checkpoint that
//     passes it.
//   - The high-water mark is replicated before any event at or above it is
//     delivered, so a new leader knows which events may have been delivered
//     and marks them redelivered.

import (
	"context"
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

const (
	// psubBuffer and psubBufferBytes bound the outstanding (read, unsettled)
	// events of one subscription.
	psubBuffer      = 512
	psubBufferBytes = 16 << 20
	// psubScanBytes bounds the payload one read-ahead fetches.
	psubScanBytes = 4 << 20
	// psubFlushEvery and psubFlushAcks: the checkpoint is proposed at most
	// every psubFlushEvery, or sooner once psubFlushAcks events were settled.
	psubFlushEvery = 100 * time.Millisecond
	psubFlushAcks  = 100
	// psubTick is how often timeouts, retry delays and expiries are checked.
	psubTick = 25 * time.Millisecond
	// psubLeaseBeats: a consumer is gone after this many missed heartbeats.
	psubLeaseBeats = 3
	// psubHighReserve: the high-water mark is raised this far beyond what
	// was read, so that a subscription following the head of a busy store
	// does not cost a Raft round per read; the price is that after a leader
	// change up to this many positions may be marked redelivered needlessly.
	psubHighReserve = 1024
)

func init() { leaderTasks = append(leaderTasks, psubTask) }

// psubManagers holds the delivery manager of every store this node leads,
// for the request handlers (join, ack, replay, info).
var psubManagers sync.Map // *replica → *psubManager

func managerOf(r *replica) *psubManager {
	if v, ok := psubManagers.Load(r); ok {
		return v.(*psubManager)
	}
	return nil
}

type psubManager struct {
	n    *Node
	r    *replica
	kick chan struct{}

	reloadMu sync.Mutex // serialises reloads (read + merge)

	mu    sync.Mutex
	subs  map[string]*psubSub
	stale bool // a definition changed: reload before the next round
	// head is the store's next position as last seen; headStale is set when
	// a batch was applied since, so that subscriptions at head look again.
	head      uint64
	headStale bool
}

type psubSub struct {
	def       *sm.PSub
	next      uint64 // every position below was read
	high      uint64 // replicated high-water mark
	wantHigh  uint64 // high-water mark to replicate before delivering what was read
	persisted uint64 // replicated checkpoint
	redeliver uint64 // events below may have been delivered by an earlier leader
	events    []*psubEvent
	bytes     int // payload of events
	replays   []*psubEvent
	consumers map[string]*psubConsumer
	rr        int
	parks     []sm.PSubParkCmd
	unparks   []uint64
	settled   int // since the last proposal
	lastFlush time.Time
	dead      bool
}

type psubEvent struct {
	ev        wire.RecordedEvent
	count     uint64 // deliveries so far
	base      uint64 // deliveries that do not count against max_retries (replays)
	consumer  string // "" while waiting
	deadline  time.Time
	notBefore time.Time
	replay    bool
}

type psubConsumer struct {
	id        string
	deliver   string
	heartbeat time.Duration
	lastSeen  time.Time
	inflight  int
}

func psubTask(ctx context.Context, n *Node, r *replica) {
	m := &psubManager{n: n, r: r, kick: make(chan struct{}, 1), subs: map[string]*psubSub{}, headStale: true}
	// Registered before the first load, so that a definition changed
	// meanwhile marks it stale (handlers reload on their own when needed).
	psubManagers.Store(r, m)
	defer psubManagers.CompareAndDelete(r, m)
	backoff := 10 * time.Millisecond
	for {
		err := m.reload(ctx)
		if err == nil {
			break
		}
		n.cfg.Logger.Debug("persistent subscriptions: cannot load definitions yet", "store", r.spec.ID, "err", err)
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
	tick := time.NewTicker(psubTick)
	defer tick.Stop()
	for {
		wake := r.applied.C()
		m.step(ctx)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		idle := len(m.subs) == 0
		m.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return
			case <-m.kick:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-wake:
			m.mu.Lock()
			m.headStale = true
			m.mu.Unlock()
		case <-tick.C:
		}
	}
}

// definitionsChanged makes the next round reload the definitions.
func (m *psubManager) definitionsChanged() {
	m.mu.Lock()
	m.stale = true
	m.mu.Unlock()
	m.poke()
}

func (m *psubManager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// reload reads the definitions (linearizably: a new leader may not have
// applied its predecessor's last entries yet) and merges them.
func (m *psubManager) reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, m.r.spec.Timeout)
	defer cancel()
	v, err := m.n.read(rctx, m.r.spec.ShardID, sm.PSubList{})
	if err != nil {
		return err
	}
	defs := v.([]*sm.PSub)
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, d := range defs {
		seen[d.Name] = true
		if s := m.subs[d.Name]; s != nil && s.def.Gen == d.Gen && !s.dead {
			s.def = d // settings may have changed
			continue
		}
		m.headStale = true // a new subscription reads from its checkpoint
		m.subs[d.Name] = &psubSub{
			def: d, next: d.Checkpoint, high: d.High, wantHigh: d.High, persisted: d.Checkpoint,
			redeliver: d.High, consumers: map[string]*psubConsumer{}, lastFlush: time.Now(),
		}
	}
	for name := range m.subs {
		if !seen[name] {
			delete(m.subs, name)
		}
	}
	return nil
}

// sub returns a live subscription, reloading once if it is unknown.
func (m *psubManager) sub(ctx context.Context, name string) error {
	m.mu.Lock()
	s := m.subs[name]
	m.mu.Unlock()
	if s != nil && !s.dead {
		return nil
	}
	if err := m.reload(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	s = m.subs[name]
	m.mu.Unlock()
	if s == nil || s.dead {
		return codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", name)
	}
	return nil
}

// step does one round: read ahead, time out, dispatch, publish, propose.
func (m *psubManager) step(ctx context.Context) {
	m.mu.Lock()
	reload := m.stale
	m.stale = false
	for _, s := range m.subs {
		reload = reload || s.dead
	}
	m.mu.Unlock()
	if reload {
		if err := m.reload(ctx); err != nil {
			m.mu.Lock()
			m.stale = true
			m.mu.Unlock()
			return
		}
	}
	m.readAhead(ctx)
	m.publish(m.dispatch(time.Now()))
	m.flush(ctx, false)
}

// readAhead fills each subscription's buffer from its read cursor, with
// local reads of committed state.
func (m *psubManager) readAhead(ctx context.Context) {
	type job struct {
		name string
		s    *psubSub
		def  *sm.PSub
		from uint64
		room int
	}
	var jobs []job
	m.mu.Lock()
	look := m.headStale
	m.headStale = false
	for name, s := range m.subs {
		if room := psubBuffer - len(s.events); room > 0 && s.bytes < psubBufferBytes && !s.dead && (look || s.next < m.head) {
			jobs = append(jobs, job{name, s, s.def, s.next, room})
		}
	}
	m.mu.Unlock()
	for _, j := range jobs {
		for room := j.room; room > 0 && ctx.Err() == nil; {
			v, err := m.n.host.StaleRead(m.r.spec.ShardID, sm.PSubScan{Sub: j.def, From: j.from, Max: room, MaxBytes: psubScanBytes})
			if err != nil {
				m.n.cfg.Logger.Warn("persistent subscriptions: local read failed", "store", m.r.spec.ID, "subscription", j.name, "err", err)
				return
			}
			res := v.(*sm.PSubScanResult)
			m.mu.Lock()
			m.head = max(m.head, res.Head)
			m.mu.Unlock()
			if res.Next == j.from {
				break // at the head
			}
			// Replicate the high-water mark before anything read here can
			// be delivered.
			m.mu.Lock()
			if m.subs[j.name] != j.s || j.s.next != j.from {
				m.mu.Unlock()
				break
			}
			raise := len(res.Events) > 0 && res.Next > j.s.high
			if raise {
				j.s.wantHigh = max(j.s.wantHigh, res.Next+psubHighReserve)
			}
			m.mu.Unlock()
			if raise && !m.flushOne(ctx, j.name) {
				break
			}
			m.mu.Lock()
			if m.subs[j.name] != j.s || j.s.next != j.from || j.s.high < res.Next && len(res.Events) > 0 {
				m.mu.Unlock()
				break
			}
			for _, ev := range res.Events {
				e := &psubEvent{ev: ev}
				if ev.Position < j.s.redeliver {
					e.count = 1 // may have been delivered before a leader change
				}
				j.s.events = append(j.s.events, e)
				j.s.bytes += psubEventBytes(&ev)
			}
			j.s.next = res.Next
			m.mu.Unlock()
			room -= len(res.Events)
			j.from = res.Next
			if res.Next >= res.Head || j.s.bytes >= psubBufferBytes {
				break
			}
		}
	}
}

type psubOut struct {
	subject string
	data    []byte
}

// dispatch expires consumers, times out deliveries and hands waiting events
// to consumers; it returns the messages to publish.
func (m *psubManager) dispatch(now time.Time) []psubOut {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []psubOut
	for name, s := range m.subs {
		if s.dead {
			continue
		}
		for id, c := range s.consumers {
			if now.Sub(c.lastSeen) > psubLeaseBeats*c.heartbeat {
				delete(s.consumers, id)
			}
		}
		s.timeouts(now)
		out = append(out, s.assign(name, now)...)
	}
	return out
}

func (s *psubSub) maxDeliveries() uint64 { return uint64(s.def.MaxRetries) + 1 }

// timeouts returns every delivery past its ack deadline to waiting (or to
// the park, once its deliveries are used up).
func (s *psubSub) timeouts(now time.Time) {
	for _, list := range []*[]*psubEvent{&s.events, &s.replays} {
		for _, e := range slices.Clone(*list) {
			if e.consumer != "" && now.After(e.deadline) {
				if c := s.consumers[e.consumer]; c != nil {
					c.inflight--
				}
				e.consumer = ""
				if e.count-e.base >= s.maxDeliveries() {
					s.park(e, wire.ParkedByMaxRetries)
				}
			}
		}
	}
}

func psubEventBytes(e *wire.RecordedEvent) int {
	return len(e.Data) + len(e.Metadata) + len(e.Type) + len(e.Stream) + 128
}

// remove takes e out of the outstanding lists.
func (s *psubSub) remove(e *psubEvent) {
	if e.replay {
		s.replays = slices.DeleteFunc(s.replays, func(x *psubEvent) bool { return x == e })
	} else {
		s.events = slices.DeleteFunc(s.events, func(x *psubEvent) bool { return x == e })
		s.bytes -= psubEventBytes(&e.ev)
	}
	s.settled++
}

func (s *psubSub) park(e *psubEvent, reason string) {
	s.remove(e)
	s.parks = append(s.parks, sm.PSubParkCmd{Position: e.ev.Position, Reason: reason, DeliveryCount: e.count})
}

// settle finishes e (ack or skip); a replayed event leaves the park.
func (s *psubSub) settle(e *psubEvent) {
	s.remove(e)
	if e.replay {
		s.unparks = append(s.unparks, e.ev.Position)
	}
}

func (s *psubSub) sortedConsumers() []*psubConsumer {
	cs := make([]*psubConsumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	return cs
}

// pinnedConsumer picks a stream's consumer by rendezvous hashing, so that a
// consumer joining or leaving moves only the streams it gains or loses.
func pinnedConsumer(stream string, cs []*psubConsumer) *psubConsumer {
	var best *psubConsumer
	var bestScore uint64
	hs := fnv64(stream)
	for _, c := range cs {
		if score := mix64(hs ^ mix64(fnv64(c.id))); best == nil || score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
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

func (s *psubSub) assign(name string, now time.Time) []psubOut {
	cs := s.sortedConsumers()
	if len(cs) == 0 {
		return nil
	}
	var out []psubOut
	limit := int(s.def.MaxInFlight)
	deliver := func(e *psubEvent, c *psubConsumer) {
		e.consumer, e.count = c.id, e.count+1
		e.deadline = now.Add(time.Duration(s.def.AckTimeoutMs) * time.Millisecond)
		c.inflight++
		d := wire.Delivery{Subscription: name, Event: e.ev, DeliveryCount: e.count, Redelivered: e.count > 1, Replay: e.replay}
		b, err := wire.Marshal(&d)
		if err != nil {
			return // a RecordedEvent always encodes; the ack timeout would redeliver
		}
		out = append(out, psubOut{c.deliver, b})
	}
	roundRobin := func(e *psubEvent) bool {
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
	if s.def.Strategy == wire.StrategyPinned {
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

func (m *psubManager) publish(out []psubOut) {
	for _, o := range out {
		// Core NATS, at most once: a lost delivery is redelivered after
		// the ack timeout.
		if err := m.n.cfg.NATS.Publish(o.subject, o.data); err != nil {
			m.n.cfg.Logger.Debug("persistent subscriptions: publish failed", "subject", o.subject, "err", err)
		}
	}
}

// checkpoint is the position below which everything is settled.
func (s *psubSub) checkpoint() uint64 {
	if len(s.events) > 0 {
		return s.events[0].ev.Position
	}
	return s.next
}

// flush proposes the progress of every subscription that has some and is
// due (or of every one with progress, when force).
func (m *psubManager) flush(ctx context.Context, force bool) {
	m.mu.Lock()
	var names []string
	now := time.Now()
	for name, s := range m.subs {
		dirty := s.checkpoint() != s.persisted || len(s.parks) > 0 || len(s.unparks) > 0 || s.wantHigh > s.high
		due := force || now.Sub(s.lastFlush) >= psubFlushEvery || s.settled >= psubFlushAcks || s.wantHigh > s.high
		if dirty && due && !s.dead {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	for _, name := range names {
		m.flushOne(ctx, name)
	}
}

// flushOne proposes one subscription's progress; it reports whether the
// subscription's high-water mark is now replicated.
func (m *psubManager) flushOne(ctx context.Context, name string) bool {
	m.mu.Lock()
	s := m.subs[name]
	if s == nil || s.dead {
		m.mu.Unlock()
		return false
	}
	cmd := sm.PSubProgress{Name: name, Gen: s.def.Gen, Checkpoint: s.checkpoint(), High: max(s.wantHigh, s.high),
		Park: s.parks, Unpark: s.unparks}
	s.parks, s.unparks, s.settled, s.lastFlush = nil, nil, 0, time.Now()
	m.mu.Unlock()
	aux, err := sm.EncodeAux(&cmd)
	if err != nil {
		m.restore(s, &cmd)
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, m.r.spec.Timeout)
	defer cancel()
	res, err := m.r.proposer.submit(pctx, sm.Command{Op: sm.OpPSubProgress, Stream: name, Aux: aux}, len(aux))
	if err == nil {
		err = resultError(res)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if e := codes.As(err); e.Code == codes.SubscriptionNotFound {
			s.dead = true // deleted (or deleted and created again): reload
			return false
		}
		m.n.cfg.Logger.Debug("persistent subscriptions: progress not recorded", "store", m.r.spec.ID, "subscription", name, "err", err)
		s.parks = append(cmd.Park, s.parks...)
		s.unparks = append(cmd.Unpark, s.unparks...)
		return false
	}
	s.persisted = max(s.persisted, cmd.Checkpoint)
	s.high = max(s.high, cmd.High)
	return true
}

func (m *psubManager) restore(s *psubSub, cmd *sm.PSubProgress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.parks = append(cmd.Park, s.parks...)
	s.unparks = append(cmd.Unpark, s.unparks...)
}

// ---- requests from consumers ------------------------------------------

func (m *psubManager) join(ctx context.Context, req *wire.JoinRequest, heartbeat int64) (*wire.JoinReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subs[req.Subscription]
	if s == nil || s.dead {
		return nil, codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", req.Subscription)
	}
	hb := time.Duration(heartbeat) * time.Millisecond
	c := s.consumers[req.Consumer]
	joined := c == nil
	if joined {
		c = &psubConsumer{id: req.Consumer}
		// Deliveries still held under this id (by an earlier incarnation
		// that expired) count against its room until they time out.
		for _, list := range [][]*psubEvent{s.events, s.replays} {
			for _, e := range list {
				if e.consumer == req.Consumer {
					c.inflight++
				}
			}
		}
		s.consumers[req.Consumer] = c
	}
	c.deliver, c.heartbeat, c.lastSeen = req.Deliver, hb, time.Now()
	m.poke()
	return &wire.JoinReply{HeartbeatMs: heartbeat, Joined: joined}, nil
}

func (m *psubManager) ack(ctx context.Context, req *wire.AckRequest, delay int64) (*wire.AckReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subs[req.Subscription]
	if s == nil || s.dead {
		return nil, codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", req.Subscription)
	}
	c := s.consumers[req.Consumer]
	find := func(pos uint64) *psubEvent {
		for _, list := range [][]*psubEvent{s.replays, s.events} {
			for _, e := range list {
				if e.ev.Position == pos && e.consumer == req.Consumer {
					return e
				}
			}
		}
		return nil
	}
	outstanding := func(pos uint64) bool {
		for _, list := range [][]*psubEvent{s.replays, s.events} {
			for _, e := range list {
				if e.ev.Position == pos {
					return true
				}
			}
		}
		return false
	}
	reply := &wire.AckReply{}
	settledBefore := 0
	now := time.Now()
	for _, p := range req.Positions {
		pos := uint64(p)
		e := find(pos)
		if e == nil {
			reply.NotInFlight = append(reply.NotInFlight, pos)
			if pos < s.next && !outstanding(pos) {
				settledBefore++
			}
			continue
		}
		reply.Done++
		if c != nil {
			c.inflight--
		}
		e.consumer = ""
		switch req.Action {
		case wire.ActionAck, wire.ActionSkip:
			s.settle(e)
		case wire.ActionPark:
			s.park(e, wire.ParkedByNack)
		case wire.ActionRetry, wire.ActionRetryLater:
			if e.count-e.base >= s.maxDeliveries() {
				s.park(e, wire.ParkedByMaxRetries)
			} else if req.Action == wire.ActionRetryLater {
				e.notBefore = now.Add(time.Duration(delay) * time.Millisecond)
			}
		}
	}
	if reply.Done == 0 {
		switch {
		case c == nil:
			return nil, codes.New(codes.ConsumerNotFound, "consumer %q has not joined subscription %q on this leader; join again", req.Consumer, req.Subscription)
		case settledBefore == len(req.Positions):
			return nil, codes.New(codes.EventAlreadyAcked, "the events at %v were already settled", req.Positions)
		default:
			return nil, codes.New(codes.EventNotInFlight, "no event at %v is in flight to consumer %q", req.Positions, req.Consumer)
		}
	}
	m.poke()
	return reply, nil
}

// replay queues up to count parked events for delivery again.
func (m *psubManager) replay(ctx context.Context, name string, count int) (*wire.ReplayReply, error) {
	if err := m.sub(ctx, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	s := m.subs[name]
	if s == nil {
		m.mu.Unlock()
		return nil, codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", name)
	}
	skip := map[uint64]bool{}
	for _, e := range s.replays {
		skip[e.ev.Position] = true
	}
	m.mu.Unlock()
	v, err := m.n.read(ctx, m.r.spec.ShardID, sm.PSubParked{Name: name, Limit: count, Skip: skip})
	if err != nil {
		return nil, err
	}
	res := v.(*sm.PSubParkedResult)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs[name] != s || s.dead {
		return nil, codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", name)
	}
	reply := &wire.ReplayReply{}
	for _, pe := range res.Entries {
		if slices.ContainsFunc(s.replays, func(e *psubEvent) bool { return e.ev.Position == pe.Event.Position }) {
			continue
		}
		// A parked event that was unparked meanwhile (acked in an earlier
		// replay whose progress is not replicated yet) is not replayed twice.
		if slices.Contains(s.unparks, pe.Event.Position) {
			continue
		}
		c := pe.Park.DeliveryCount
		s.replays = append(s.replays, &psubEvent{ev: pe.Event, count: c, base: c, replay: true})
		reply.Replaying++
	}
	m.poke()
	return reply, nil
}

// live fills in an info's delivery state, when this node delivers.
func (m *psubManager) live(info *wire.SubscriptionInfo, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subs[info.Subscription]
	if s == nil || s.def.Gen != gen {
		return
	}
	for _, list := range [][]*psubEvent{s.events, s.replays} {
		for _, e := range list {
			if e.consumer != "" {
				info.InFlight++
			} else {
				info.Waiting++
			}
		}
	}
	for _, c := range s.sortedConsumers() {
		info.Consumers = append(info.Consumers, wire.ConsumerInfo{Consumer: c.id, InFlight: uint64(max(c.inflight, 0))})
	}
}

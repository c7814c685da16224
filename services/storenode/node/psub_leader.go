package node

// Persistent subscription delivery: one leader task per store (psubTask)
// runs on the store's leader for as long as it leads. Its manager does the
// I/O — reads ahead with local StaleReads, proposes progress
// (OpPSubProgress), publishes deliveries on NATS, serves join, ack and
// replay — and leaves every delivery decision to the pure core of package
// psub, which holds each subscription's delivery state in memory. Only what
// must survive a leader change is replicated: the checkpoint, the delivered
// high-water mark and parked events. See schemas/persistent-subscriptions.md
// and services/storenode/psub/DESIGN.md.

import (
	"context"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/psub"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

const (
	// psubScanBytes bounds the payload one read-ahead fetches.
	psubScanBytes = 4 << 20
	// psubTick is how often timeouts, retry delays and expiries are checked.
	psubTick = 25 * time.Millisecond
)

func init() { leaderTasks = append(leaderTasks, psubTask) }

// psubManagers holds the delivery manager of every store this node leads,
// for the request handlers (join, ack, replay, info).
var psubManagers sync.Map // *storeReplica → *psubManager

func managerOf(r *storeReplica) *psubManager {
	if v, ok := psubManagers.Load(r); ok {
		return v.(*psubManager)
	}
	return nil
}

type psubManager struct {
	n    *Node
	r    *storeReplica
	kick chan struct{}

	reloadMu sync.Mutex // serialises reloads (read + merge)

	mu    sync.Mutex
	core  *psub.Deliverer
	defs  map[string]*sm.PSub // the definitions loaded, for the read-ahead's filter
	stale bool                // a definition changed: reload before the next round
}

func psubTask(ctx context.Context, n *Node, r *storeReplica) {
	m := &psubManager{n: n, r: r, kick: make(chan struct{}, 1), core: psub.New(time.Now), defs: map[string]*sm.PSub{}}
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
		idle := m.core.Empty()
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
			m.core.HeadMoved()
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
	list := v.([]*sm.PSub)
	defs := make([]psub.Definition, len(list))
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.defs)
	for i, d := range list {
		m.defs[d.Name] = d
		defs[i] = psub.Definition{Name: d.Name, Gen: d.Gen, Checkpoint: d.Checkpoint, High: d.High, Settings: psub.Settings{
			MaxInFlight: d.MaxInFlight, AckTimeout: time.Duration(d.AckTimeoutMs) * time.Millisecond,
			MaxRetries: d.MaxRetries, Strategy: d.Strategy}}
	}
	m.core.Load(defs)
	return nil
}

// sub makes sure a subscription is loaded, reloading once if it is unknown.
func (m *psubManager) sub(ctx context.Context, name string) error {
	m.mu.Lock()
	live := m.core.Live(name)
	m.mu.Unlock()
	if live {
		return nil
	}
	if err := m.reload(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	live = m.core.Live(name)
	m.mu.Unlock()
	if !live {
		return psub.NotFound(name)
	}
	return nil
}

// step does one round: read ahead, time out, dispatch, publish, propose.
func (m *psubManager) step(ctx context.Context) {
	m.mu.Lock()
	reload := m.stale || m.core.NeedsReload()
	m.stale = false
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
	m.mu.Lock()
	out := m.core.Dispatch()
	m.mu.Unlock()
	m.publish(out)
	m.mu.Lock()
	due := m.core.Due()
	m.mu.Unlock()
	for _, name := range due {
		m.flushOne(ctx, name)
	}
}

// readAhead fills each subscription's buffer from its read cursor, with
// local reads of committed state.
func (m *psubManager) readAhead(ctx context.Context) {
	m.mu.Lock()
	jobs := m.core.ReadJobs()
	defs := make([]*sm.PSub, len(jobs))
	for i, j := range jobs {
		defs[i] = m.defs[j.Name]
	}
	m.mu.Unlock()
	for i := range jobs {
		j := &jobs[i]
		for ctx.Err() == nil {
			v, err := m.n.host.StaleRead(m.r.spec.ShardID, sm.PSubScan{Sub: defs[i], From: j.From, Max: j.Room, MaxBytes: psubScanBytes})
			if err != nil {
				m.n.cfg.Logger.Warn("persistent subscriptions: local read failed", "store", m.r.spec.ID, "subscription", j.Name, "err", err)
				return
			}
			res := v.(*sm.PSubScanResult)
			sc := psub.Scan{Events: wireEvents(res.Events), Next: res.Next, Head: res.Head}
			m.mu.Lock()
			raise, ok := m.core.Scanned(j, sc)
			m.mu.Unlock()
			// The high-water mark is replicated before anything read here
			// can be delivered.
			if !ok || raise && !m.flushOne(ctx, j.Name) {
				break
			}
			m.mu.Lock()
			more := m.core.Accept(j, sc)
			m.mu.Unlock()
			if !more {
				break
			}
		}
	}
}

func (m *psubManager) publish(out []psub.Delivery) {
	for _, o := range out {
		b, err := wire.Marshal(&o.Message)
		if err == nil {
			// Core NATS, at most once: a lost delivery is redelivered
			// after the ack timeout.
			err = m.n.cfg.NATS.Publish(o.Subject, b)
		}
		if err != nil {
			m.n.cfg.Logger.Debug("persistent subscriptions: publish failed", "subject", o.Subject, "err", err)
		}
	}
}

// flushOne proposes one subscription's progress; it reports whether the
// progress (and so the subscription's high-water mark) is now replicated.
func (m *psubManager) flushOne(ctx context.Context, name string) bool {
	m.mu.Lock()
	p, ok := m.core.TakeProgress(name)
	m.mu.Unlock()
	if !ok {
		return false
	}
	err := m.propose(ctx, &p)
	if err != nil {
		m.n.cfg.Logger.Debug("persistent subscriptions: progress not recorded", "store", m.r.spec.ID, "subscription", name, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.Proposed(p, err)
}

// propose replicates p as one OpPSubProgress entry.
func (m *psubManager) propose(ctx context.Context, p *psub.Progress) error {
	cmd := sm.PSubProgress{Name: p.Name, Gen: p.Gen, Checkpoint: p.Checkpoint, High: p.High, Unpark: p.Unpark}
	for _, pk := range p.Park {
		cmd.Park = append(cmd.Park, sm.PSubParkCmd{Position: pk.Position, Reason: pk.Reason, DeliveryCount: pk.DeliveryCount})
	}
	aux, err := sm.EncodeAux(&cmd)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, m.r.spec.Timeout)
	defer cancel()
	res, err := m.r.proposer.submit(pctx, sm.Command{Op: sm.OpPSubProgress, Stream: p.Name, Aux: aux}, len(aux))
	if err != nil {
		return err
	}
	return res.Err()
}

// ---- requests from consumers ------------------------------------------

func (m *psubManager) join(ctx context.Context, req *wire.JoinRequest, heartbeat int64) (*wire.JoinReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	joined, err := m.core.Join(req.Subscription, req.Consumer, req.Deliver, time.Duration(heartbeat)*time.Millisecond)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.poke()
	return &wire.JoinReply{HeartbeatMs: heartbeat, Joined: joined}, nil
}

func (m *psubManager) ack(ctx context.Context, req *wire.AckRequest, delay int64) (*wire.AckReply, error) {
	if err := m.sub(ctx, req.Subscription); err != nil {
		return nil, err
	}
	m.mu.Lock()
	reply, err := m.core.Ack(req.Subscription, req.Consumer, req.Positions, req.Action, time.Duration(delay)*time.Millisecond)
	m.mu.Unlock()
	if err != nil {
		return nil, err
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
	q, err := m.core.StartReplay(name)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	v, err := m.n.read(ctx, m.r.spec.ShardID, sm.PSubParked{Name: name, Limit: count, Skip: q.Skip})
	if err != nil {
		return nil, err
	}
	res := v.(*sm.PSubParkedResult)
	parked := make([]psub.Parked, len(res.Entries))
	for i, pe := range res.Entries {
		parked[i] = psub.Parked{Event: wire.RecordedEvent(pe.Event), DeliveryCount: pe.Park.DeliveryCount}
	}
	m.mu.Lock()
	n, err := m.core.Replay(q, parked)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.poke()
	return &wire.ReplayReply{Replaying: n}, nil
}

// live fills in an info's delivery state, when this node delivers.
func (m *psubManager) live(info *wire.SubscriptionInfo, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.core.Info(info.Subscription, gen, info)
}

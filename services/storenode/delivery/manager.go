package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/psub"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

const (
	// scanBytes bounds the payload one read-ahead fetches.
	scanBytes = 4 << 20
	// tickEvery is how often timeouts, retry delays and expiries are checked.
	tickEvery = 25 * time.Millisecond
)

// manager delivers one store's subscriptions for one leadership.
type manager struct {
	d    *Deliveries
	s    Store
	id   string // the store
	kick chan struct{}

	reloadMu sync.Mutex // serialises reloads (read + merge)

	flushes sync.WaitGroup // progress proposed in the background (step); run waits for them

	mu    sync.Mutex
	core  *psub.Deliverer
	defs  map[string]*sm.PSub // the definitions loaded, for the read-ahead's filter
	stale bool                // a definition changed: reload before the next round
}

// run delivers until ctx ends.
func (m *manager) run(ctx context.Context) {
	var backoff replica.Backoff
	for {
		err := m.reload(ctx)
		if err == nil {
			break
		}
		m.d.log.Debug("persistent subscriptions: cannot load definitions yet", "store", m.id, "err", err)
		if !backoff.Wait(ctx) {
			return
		}
	}
	defer m.flushes.Wait() // after ctx ends: their proposals end with it
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		wake := m.s.Applied()
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
func (m *manager) definitionsChanged() {
	m.mu.Lock()
	m.stale = true
	m.mu.Unlock()
	m.poke()
}

func (m *manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// reload reads the definitions (linearizably: a new leader may not have
// applied its predecessor's last entries yet) and merges them.
func (m *manager) reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, m.s.Spec().Timeout)
	defer cancel()
	list, err := raft.As[[]*sm.PSub](m.s.Read(rctx, sm.PSubList{}))
	if err != nil {
		return err
	}
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
func (m *manager) sub(ctx context.Context, name string) error {
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
func (m *manager) step(ctx context.Context) {
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
	// Progress that is due (a checkpoint, parks, a high-water mark) is
	// proposed in the background, one proposal per subscription at a time
	// (TakeProgress): delivery goes on meanwhile instead of waiting a Raft
	// round every FlushAcks settled events. Nothing waits for it: the
	// read-ahead proposes its own high-water mark and waits for that.
	m.mu.Lock()
	var due []psub.Progress
	for _, name := range m.core.Due() {
		if p, ok := m.core.TakeProgress(name); ok {
			due = append(due, p)
		}
	}
	m.mu.Unlock()
	for _, p := range due {
		m.flushes.Go(func() {
			m.proposed(p, m.propose(ctx, &p))
			m.poke()
		})
	}
}

// readAhead fills each subscription's buffer from its read cursor, with
// local reads of committed state.
func (m *manager) readAhead(ctx context.Context) {
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
			res, err := raft.As[*sm.PSubScanResult](m.s.StaleRead(sm.PSubScan{Sub: defs[i], From: j.From, Max: j.Room, MaxBytes: scanBytes}))
			if err != nil {
				m.d.log.Warn("persistent subscriptions: local read failed", "store", m.id, "subscription", j.Name, "err", err)
				return
			}
			sc := psub.Scan{Events: make([]wire.RecordedEvent, len(res.Events)), Next: res.Next, Head: res.Head}
			for k := range res.Events {
				sc.Events[k] = wire.RecordedEvent(res.Events[k])
			}
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

func (m *manager) publish(out []psub.Delivery) {
	for _, o := range out {
		b, err := wire.Marshal(&o.Message)
		if err == nil {
			// Core NATS, at most once: a lost delivery is redelivered
			// after the ack timeout.
			err = m.d.nc.Publish(o.Subject, b)
		}
		if err != nil {
			m.d.log.Debug("persistent subscriptions: publish failed", "subject", o.Subject, "err", err)
		}
	}
}

// flushOne proposes one subscription's progress and waits for it; it
// reports whether the progress (and so the subscription's high-water mark)
// is now replicated: false too when a proposal of the subscription's is
// still in flight (the next round reads again).
func (m *manager) flushOne(ctx context.Context, name string) bool {
	m.mu.Lock()
	p, ok := m.core.TakeProgress(name)
	m.mu.Unlock()
	if !ok {
		return false
	}
	return m.proposed(p, m.propose(ctx, &p))
}

// proposed gives the outcome of proposing p back to the core; it reports
// whether p is now replicated.
func (m *manager) proposed(p psub.Progress, err error) bool {
	if err != nil {
		m.d.log.Debug("persistent subscriptions: progress not recorded", "store", m.id, "subscription", p.Name, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.Proposed(p, err)
}

// propose replicates p as one OpPSubProgress entry.
func (m *manager) propose(ctx context.Context, p *psub.Progress) error {
	cmd := sm.PSubProgress{Name: p.Name, Gen: p.Gen, Checkpoint: p.Checkpoint, High: p.High, Unpark: p.Unpark}
	for _, pk := range p.Park {
		cmd.Park = append(cmd.Park, sm.PSubParkCmd{Position: pk.Position, Reason: pk.Reason, DeliveryCount: pk.DeliveryCount})
	}
	aux, err := sm.EncodeAux(&cmd)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, m.s.Spec().Timeout)
	defer cancel()
	res, err := m.s.Submit(pctx, sm.Command{Op: sm.OpPSubProgress, Stream: p.Name, Aux: aux}, len(aux))
	if err != nil {
		return err
	}
	return res.Err()
}

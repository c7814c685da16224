package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/logbookdb/logbook/internal/proto"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// A create returns once the registry says "running", but requests reach a
// store only once its leader subscribes to the store's internal leader
// subjects (the replica set's leader follower). Until then the gateway holds
// and retries the request. servingProbe measures that gap without loading the storenode: it
// asks NATS whether anything answers _LB.leader.<store>.list_streams. While
// nobody does, NATS itself replies "no responders" at once; the storenode
// only sees the request once the store is served.

// servingResult is how long stores took to be served after their create.
type servingResult struct {
	Stores           int            `json:"stores"`
	Served           int            `json:"served"`
	UnservedAtEnd    int            `json:"unserved_when_creates_ended"` // created but not yet served when the last create returned
	AllServedAfterS  float64        `json:"all_served_after_creates_s"`  // from the last create's return
	LagAfterCreate   latencySummary `json:"lag_after_create"`            // create returned → served
	CreateToServed   latencySummary `json:"create_to_served"`            // create sent → served
	ProbeRequests    int            `json:"probe_requests"`
	ProbeIntervalMax float64        `json:"probe_interval_max_ms"`
}

type probeItem struct {
	id       string
	sent     time.Time // create sent
	returned time.Time // create returned
}

type servingProbe struct {
	nc   *nats.Conn
	data []byte

	mu      sync.Mutex
	pending []probeItem
	lag     []time.Duration
	total   []time.Duration
	res     servingResult
	stop    chan struct{}
	done    chan struct{}
}

func newServingProbe(nc *nats.Conn) *servingProbe {
	data, _ := wire.Marshal(&wire.ListStreamsRequest{})
	p := &servingProbe{nc: nc, data: data, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// add registers a store whose create returned.
func (p *servingProbe) add(id string, sent, returned time.Time) {
	p.mu.Lock()
	p.pending = append(p.pending, probeItem{id, sent, returned})
	p.res.Stores++
	p.mu.Unlock()
}

// loop checks every pending store, then waits: at least 250 ms, and 1 ms per
// pending store, so that the probe never sends more than ~1,000 requests/s.
func (p *servingProbe) loop() {
	defer close(p.done)
	for {
		p.mu.Lock()
		batch := append([]probeItem(nil), p.pending...)
		p.mu.Unlock()
		served := map[string]bool{}
		for _, it := range batch {
			_, err := p.nc.Request(proto.Leader(it.id, subjects.OpListStreams), p.data, 5*time.Second)
			if errors.Is(err, nats.ErrNoResponders) {
				continue
			}
			// Any answer (or a timeout: the storenode got it) means served.
			now := time.Now()
			served[it.id] = true
			p.mu.Lock()
			p.lag = append(p.lag, now.Sub(it.returned))
			p.total = append(p.total, now.Sub(it.sent))
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.res.ProbeRequests += len(batch)
		keep := p.pending[:0]
		for _, it := range p.pending {
			if !served[it.id] {
				keep = append(keep, it)
			}
		}
		p.pending = keep
		wait := max(250*time.Millisecond, time.Duration(len(keep))*time.Millisecond)
		p.res.ProbeIntervalMax = max(p.res.ProbeIntervalMax, ms(wait))
		p.mu.Unlock()
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
	}
}

func (p *servingProbe) unserved() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// waitAll waits until every registered store is served or limit passes,
// then stops the probe and returns its result. end is when creates ended.
func (p *servingProbe) waitAll(ctx context.Context, end time.Time, limit time.Duration) *servingResult {
	p.mu.Lock()
	p.res.UnservedAtEnd = len(p.pending)
	p.mu.Unlock()
	deadline := time.Now().Add(limit)
	for p.unserved() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	all := time.Since(end)
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.Served = len(p.lag)
	if len(p.pending) == 0 {
		p.res.AllServedAfterS = all.Seconds()
	} else {
		p.res.AllServedAfterS = -1
	}
	p.res.LagAfterCreate = summarize(p.lag)
	p.res.CreateToServed = summarize(p.total)
	return &p.res
}

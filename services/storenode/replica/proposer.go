package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// maxBatchBytes bounds the commands one Raft entry carries, in request bytes.
const maxBatchBytes = 8 << 20

// proposer packs concurrent commands for one store into Raft entries: group
// commit. Each of its workers takes whatever commands are waiting (up to
// MaxBatch), proposes them as one entry and hands every command its own
// result. Under load, one fsync then serves hundreds of appends; with a single
// client it costs nothing, since a lone command is proposed at once.
type proposer struct {
	raft     raftProposer
	shard    uint64
	maxBatch int
	timeout  time.Duration
	queue    chan *pending
	wg       sync.WaitGroup
	running  atomic.Int32  // workers still running
	stopped  chan struct{} // closed when every worker has returned
	now      func() time.Time
	// batchSizes, if set, observes the commands of each proposal.
	batchSizes interface{ Observe(float64) }

	// term is cancelled when this node stops leading the store: proposals
	// in flight then end at once with an unknown outcome (timeout), which the
	// client resolves by retrying with the same event ids at the new leader,
	// rather than waiting out the full timeout for an answer that a deposed
	// leader may never get.
	mu         sync.Mutex
	base       context.Context
	term       context.Context
	termCancel context.CancelFunc
}

type pending struct {
	cmd  sm.Command
	size int
	done chan outcome // buffered: a worker never blocks on a caller that gave up
}

type outcome struct {
	res sm.Result
	err error
}

// raftProposer is the Raft calls the proposer makes (raft.Host in production).
type raftProposer interface {
	Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error)
	// Follows reports whether another node leads the shard now.
	Follows(shard uint64) bool
}

// newProposer packs up to maxBatch commands per entry, with up to workers
// entries in flight, each under timeout.
func newProposer(raft raftProposer, shardID uint64, maxBatch, workers int, timeout time.Duration) *proposer {
	return &proposer{
		raft:     raft,
		shard:    shardID,
		maxBatch: maxBatch,
		timeout:  timeout,
		queue:    make(chan *pending, maxBatch*workers),
		stopped:  make(chan struct{}),
		now:      time.Now,
	}
}

// start runs n workers until ctx is done.
func (p *proposer) start(ctx context.Context, n int) {
	p.mu.Lock()
	p.base = ctx
	p.term, p.termCancel = context.WithCancel(ctx)
	p.mu.Unlock()
	p.running.Store(int32(n))
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.work(ctx)
			if p.running.Add(-1) == 0 {
				close(p.stopped) // the last worker out
			}
		}()
	}
}

// leaderLost ends the proposals in flight (their outcome unknown) and
// starts a new term for the next ones.
func (p *proposer) leaderLost() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.termCancel == nil {
		return
	}
	p.termCancel()
	p.term, p.termCancel = context.WithCancel(p.base)
}

func (p *proposer) termCtx() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.term
}

// wait blocks until every worker has stopped.
func (p *proposer) wait() { p.wg.Wait() }

// submit proposes cmd and waits for its result or ctx's end. A Timeout error
// means the outcome is unknown: the command may still be applied.
func (p *proposer) submit(ctx context.Context, cmd sm.Command, size int) (sm.Result, error) {
	pd := &pending{cmd: cmd, size: size, done: make(chan outcome, 1)}
	select {
	case p.queue <- pd:
	case <-ctx.Done():
		return sm.Result{}, codes.New(codes.NotWritten, "store is too busy: the request was not proposed")
	}
	select {
	case o := <-pd.done:
		return o.res, o.err
	case <-ctx.Done():
		return sm.Result{}, codes.New(codes.Timeout, "no outcome before the deadline; retry with the same event ids to find out")
	case <-p.stopped:
		// Every worker has returned: a command still queued was never
		// proposed, one a worker took has its outcome in pd.done.
		select {
		case o := <-pd.done:
			return o.res, o.err
		default:
			return sm.Result{}, codes.New(codes.NotWritten, "the store's replica stopped here: the request was not proposed")
		}
	}
}

func (p *proposer) work(ctx context.Context) {
	batch := make([]*pending, 0, p.maxBatch)
	for {
		if ctx.Err() != nil {
			return // stopped: propose nothing more (submit answers what is queued)
		}
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case pd := <-p.queue:
			batch = append(batch, pd)
		}
		bytes := batch[0].size
	fill:
		for len(batch) < p.maxBatch && bytes < maxBatchBytes {
			select {
			case pd := <-p.queue:
				batch = append(batch, pd)
				bytes += pd.size
			default:
				break fill
			}
		}
		p.propose(ctx, batch)
	}
}

func (p *proposer) propose(ctx context.Context, batch []*pending) {
	if p.batchSizes != nil {
		p.batchSizes.Observe(float64(len(batch)))
	}
	b := sm.Batch{Time: p.now().UnixNano(), Cmds: make([]sm.Command, len(batch))}
	for i, pd := range batch {
		b.Cmds[i] = pd.cmd
	}
	fail := func(err error) {
		for _, pd := range batch {
			pd.done <- outcome{err: err}
		}
	}
	data, err := sm.EncodeBatch(&b)
	if err != nil {
		fail(codes.New(codes.Internal, "%v", err))
		return
	}
	pctx, cancel := context.WithTimeout(p.termCtx(), p.timeout)
	defer cancel()
	res, err := p.proposeWhenReady(pctx, data)
	if err != nil {
		fail(err)
		return
	}
	results, err := sm.DecodeResults(res)
	if err != nil || len(results) != len(batch) {
		fail(codes.New(codes.Internal, "bad results from the state machine: %v (%d for %d commands)", err, len(results), len(batch)))
		return
	}
	for i, pd := range batch {
		pd.done <- outcome{res: results[i]}
	}
}

// proposeWhenReady proposes data, and proposes it again while the shard
// refuses it as not ready yet (raft.ErrNotYet: a leadership transfer, the
// first moments after an election): such a refusal applied nothing, so the
// write is held here, within its deadline, instead of bounced to the
// client. When the deadline (or this node's leadership) ends first, or
// another node leads now, the last refusal is the answer: not_written, and
// the gateway sends the request to the new leader. (Proposing again as a
// follower would have dragonboat forward it, and the new leader may hold
// a copy of the request already: it would be served twice.)
func (p *proposer) proposeWhenReady(ctx context.Context, data []byte) ([]byte, error) {
	backoff := 2 * time.Millisecond
	for {
		res, err := p.raft.Propose(ctx, p.shard, data)
		if err == nil || !errors.Is(err, raft.ErrNotYet) || p.raft.Follows(p.shard) {
			return res, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

package replica

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// fakeRaft answers every proposal with one success result per command and
// records the batch sizes; while gate is open-ended it holds the first call.
type fakeRaft struct {
	mu      sync.Mutex
	batches []int
	gate    chan struct{}
	err     error
	// notYet is how many calls are refused as not ready before one succeeds.
	notYet int
	// follows: another node leads (after a refusal, nothing is proposed again).
	follows bool
}

func (f *fakeRaft) Follows(uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.follows
}

func (f *fakeRaft) Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error) {
	b, err := sm.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(b.Cmds))
	first := len(f.batches) == 1
	refuse := f.notYet > 0
	if refuse {
		f.notYet--
	}
	f.mu.Unlock()
	if refuse {
		return nil, raft.Error(dragonboat.ErrShardNotReady)
	}
	if first && f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return nil, f.err
	}
	rs := make([]sm.Result, len(b.Cmds))
	return sm.EncodeResults(rs), nil
}

func TestProposerPacksWaitingCommandsIntoOneEntry(t *testing.T) {
	f := &fakeRaft{gate: make(chan struct{})}
	p := newProposer(f, 1, 512, 1, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)

	var wg sync.WaitGroup
	submit := func() {
		defer wg.Done()
		if _, err := p.submit(ctx, sm.Command{Op: sm.OpAppend, Stream: "s"}, 10); err != nil {
			t.Error(err)
		}
	}
	wg.Add(1)
	go submit()
	// The first command is proposed alone and held; 20 more queue behind it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		n := len(f.batches)
		f.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first command was not proposed")
		}
		time.Sleep(time.Millisecond)
	}
	wg.Add(20)
	for range 20 {
		go submit()
	}
	for len(p.queue) < 20 {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != 2 || f.batches[0] != 1 || f.batches[1] != 20 {
		t.Fatalf("batches %v, want [1 20]: waiting commands share one entry", f.batches)
	}
}

func TestProposerHandsEveryCommandTheRaftError(t *testing.T) {
	f := &fakeRaft{err: codes.New(codes.NotWritten, "not proposed")}
	p := newProposer(f, 1, 512, 1, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)
	if _, err := p.submit(ctx, sm.Command{Op: sm.OpAppend}, 1); codes.As(err).Code != codes.NotWritten {
		t.Fatalf("got %v, want unavailable", err)
	}
}

func TestProposerHoldsAWriteTheShardIsNotReadyFor(t *testing.T) {
	f := &fakeRaft{notYet: 5}
	p := newProposer(f, 1, 512, 1, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)
	if _, err := p.submit(ctx, sm.Command{Op: sm.OpAppend}, 1); err != nil {
		t.Fatalf("a write refused as not ready was bounced to the client: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != 6 {
		t.Fatalf("%d proposals, want 5 refused and 1 accepted", len(f.batches))
	}
}

func TestProposerGivesUpOnANeverReadyShardWithNotWritten(t *testing.T) {
	f := &fakeRaft{notYet: 1 << 30}
	p := newProposer(f, 1, 512, 1, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)
	_, err := p.submit(ctx, sm.Command{Op: sm.OpAppend}, 1)
	// not_written, not timeout: the proposal never entered the log.
	if codes.As(err).Code != codes.NotWritten || !errors.Is(err, raft.ErrNotYet) {
		t.Fatalf("got %v, want not_written (not proposed)", err)
	}
}

// Once another node leads, a refused proposal is not proposed again here
// (dragonboat would forward it to the new leader, which may hold a copy of
// the request already): the answer is not_written at once.
func TestProposerStopsRetryingOnceAnotherNodeLeads(t *testing.T) {
	f := &fakeRaft{notYet: 1 << 30, follows: true}
	p := newProposer(f, 1, 512, 1, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)
	_, err := p.submit(ctx, sm.Command{Op: sm.OpAppend}, 1)
	if codes.As(err).Code != codes.NotWritten {
		t.Fatalf("got %v, want not_written", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != 1 {
		t.Fatalf("%d proposals, want 1: a follower must not propose again", len(f.batches))
	}
}

// blockingRaft holds every proposal until its context ends.
type blockingRaft struct{ started chan struct{} }

func (b *blockingRaft) Follows(uint64) bool { return false }

func (b *blockingRaft) Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	return nil, raft.Error(ctx.Err())
}

func TestStoppedProposerAnswersQueuedCommandsAtOnce(t *testing.T) {
	b := &blockingRaft{started: make(chan struct{}, 1)}
	p := newProposer(b, 1, 512, 1, time.Minute)
	base, stop := context.WithCancel(context.Background())
	p.start(base, 1)
	req, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := p.submit(req, sm.Command{Op: sm.OpAppend}, 1); first <- err }()
	<-b.started // the only worker holds the first command
	second := make(chan error, 1)
	go func() { _, err := p.submit(req, sm.Command{Op: sm.OpAppend}, 1); second <- err }()
	for len(p.queue) == 0 {
		time.Sleep(time.Millisecond)
	}
	began := time.Now()
	stop() // the replica stops here
	if err := <-first; codes.As(err).Code != codes.Timeout {
		t.Fatalf("the proposal in flight: %v, want timeout (outcome unknown)", err)
	}
	err := <-second
	if codes.As(err).Code != codes.NotWritten {
		t.Fatalf("the queued command: %v, want unavailable (never proposed)", err)
	}
	if waited := time.Since(began); waited > time.Second {
		t.Fatalf("the queued command waited %v for an answer the stopped proposer could give at once", waited)
	}
	p.wait()
}

// A command above the active store command version is refused before it
// reaches the proposer; base commands skip the check.
func TestSubmitRefusesACommandAboveTheClusterVersion(t *testing.T) {
	r := &Replica{storeVersion: func() (uint32, error) { return 1, nil }}
	_, err := r.Submit(context.Background(), sm.Command{Op: sm.OpRestore}, 1)
	if codes.As(err).Code != codes.VersionNotActive {
		t.Fatalf("restore at cluster version 1: %v", err)
	}
	f := &fakeRaft{}
	p := newProposer(f, 1, 512, 1, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	p.start(ctx, 1)
	r.proposer = p
	if _, err := r.Submit(ctx, sm.Command{Op: sm.OpAppend}, 1); err != nil {
		t.Fatalf("append at cluster version 1: %v", err)
	}
}

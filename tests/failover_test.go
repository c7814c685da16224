package tests

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Failover as a one-shot client sees it: a client that sends each append
// once (no retry of its own) must see no error when the store's leader is
// frozen or killed, because the gateway re-sends what a lost leader took
// and the real leader always gets a copy (no queue group on the leader
// subjects). Issue 10, items 2 and 4.

// oneShotLoad appends with one request in flight per writer, each append
// sent once, and records what happened.
type oneShotLoad struct {
	start time.Time
	mu    sync.Mutex
	acks  []time.Duration // when each acknowledged append returned
	fails []string
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func startOneShotLoad(t *testing.T, url, store string, writers int) *oneShotLoad {
	t.Helper()
	cl, err := client.Connect(url, client.WithoutRetry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithCancel(context.Background())
	l := &oneShotLoad{start: time.Now(), stop: cancel}
	s := cl.Store(store)
	for w := range writers {
		l.wg.Go(func() {
			stream := fmt.Sprintf("oneshot-%d", w)
			for ctx.Err() == nil {
				actx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := s.Append(actx, stream, client.Any, client.Event{ID: uuid.NewString(), Type: "Tick", Data: []byte("x")})
				cancel()
				l.mu.Lock()
				if err != nil {
					l.fails = append(l.fails, fmt.Sprintf("%s at %s: %v", stream, time.Since(l.start).Round(time.Millisecond), err))
				} else {
					l.acks = append(l.acks, time.Since(l.start))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// finish stops the load and returns the failures, the acknowledgements
// between from and to (offsets from the start), and the longest stretch
// without one.
func (l *oneShotLoad) finish(from, to time.Duration) (fails []string, during int, longest time.Duration) {
	l.stop()
	l.wg.Wait()
	acks := slices.Sorted(slices.Values(l.acks))
	for i, a := range acks {
		if a >= from && a <= to {
			during++
		}
		if i > 0 {
			longest = max(longest, a-acks[i-1])
		}
	}
	return l.fails, during, longest
}

func (l *oneShotLoad) now() time.Duration { return time.Since(l.start) }

func TestFailoverFrozenLeaderSwallowsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs storenode processes")
	}
	c := startProcCluster(t, 3)
	leader := leaderOf(t, c, "default")
	load := startOneShotLoad(t, c.url, "default", 4)
	time.Sleep(time.Second)
	frozen := load.now()
	c.pause(leader)
	t.Logf("SIGSTOP of node %d, the default store's leader", leader)
	time.Sleep(5 * time.Second)
	resumed := load.now()
	c.resume(leader)
	time.Sleep(2 * time.Second)
	fails, during, longest := load.finish(frozen+3*time.Second, resumed)
	t.Logf("longest stretch without an acknowledged append: %s; %d acknowledged in the last 2 s of the freeze", longest.Round(time.Millisecond), during)
	if len(fails) > 0 {
		t.Fatalf("%d appends failed for a one-shot client, e.g. %v", len(fails), fails[:min(3, len(fails))])
	}
	// Once a new leader is elected the store serves every writer: none
	// may be stuck on a request the frozen node holds.
	if during == 0 {
		t.Fatal("no append was acknowledged while the old leader was still frozen")
	}
}

func TestFailoverLeaderKillLosesNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs storenode processes")
	}
	c := startProcCluster(t, 3)
	leader := leaderOf(t, c, "default")
	load := startOneShotLoad(t, c.url, "default", 4)
	time.Sleep(time.Second)
	c.kill9(leader)
	t.Logf("kill -9 of node %d, the default store's leader", leader)
	time.Sleep(3 * time.Second)
	c.restart(leader)
	c.waitReady(leader)
	time.Sleep(time.Second)
	fails, _, longest := load.finish(0, 0)
	t.Logf("longest stretch without an acknowledged append: %s", longest.Round(time.Millisecond))
	if len(fails) > 0 {
		t.Fatalf("%d appends failed for a one-shot client, e.g. %v", len(fails), fails[:min(3, len(fails))])
	}
}

// Two copies of one id-less append (a gateway's resend, or the copies a
// deposed and a new leader both got) carry the same request id: the
// storenode derives the same event ids from it, so the second copy is a
// duplicate, not a second write. A different request id is a new append.
func TestIDlessAppendCopiesAreDeduplicatedByRequestID(t *testing.T) {
	in := startLogbook(t)
	send := func(reqID string) *wire.AppendReply {
		t.Helper()
		msg := &nats.Msg{Subject: proto.Leader("default", "append"), Header: nats.Header{proto.HeaderRequestID: []string{reqID}},
			Data: mp(t, map[string]any{"stream": "idless", "events": []map[string]any{{"type": "A"}, {"type": "B"}}})}
		r, err := in.Client.Conn().RequestMsg(msg, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if e := wire.ErrorFromMsg(r); e != nil {
			t.Fatal(e)
		}
		var reply wire.AppendReply
		if err := wire.UnmarshalReply(r.Data, &reply); err != nil {
			t.Fatal(err)
		}
		return &reply
	}
	first, again := send("req-1"), send("req-1")
	if first.Duplicate || !again.Duplicate || again.FirstPosition != first.FirstPosition || !slices.Equal(again.EventIDs, first.EventIDs) || len(first.EventIDs) != 2 {
		t.Fatalf("copies of one request: %+v then %+v", first, again)
	}
	other := send("req-2")
	if other.Duplicate || other.FirstRevision != first.LastRevision+1 || slices.Equal(other.EventIDs, first.EventIDs) {
		t.Fatalf("another request: %+v after %+v", other, first)
	}
	page, err := in.Store.Read(ctxT(t), "idless", client.ReadOptions{})
	if err != nil || len(page.Events) != 4 {
		t.Fatalf("read: %d events, %v", len(page.Events), err)
	}
}

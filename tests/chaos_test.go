package tests

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

// The chaos test: concurrent clients append with expected revisions and
// read back, on four stores whose leaders are spread over a three-node
// cluster, while storenode processes are killed with SIGKILL and
// restarted, paused with SIGSTOP, or cut off the network (network
// namespaces, netns_test.go; when the test runs as root), for a fixed time
// (LOGBOOK_CHAOS_DURATION, default 12s; `go tool task chaos` runs it
// longer). First fault: kill -9 of the default store's leader under load.
// Then each store's recorded history is checked: no acknowledged append
// missing, no duplicate, every stream's revisions dense, positions gapless,
// and the history linearizable (porcupine, with a model of a stream under
// optimistic concurrency and idempotent event ids). Finally the pause each
// fault caused each store is reported per fault kind (chaos_pause_test.go)
// and, with LOGBOOK_CHAOS_TARGETS=1, checked against issue 10's targets.

type chInput struct {
	Append   bool
	Stream   string
	Expected int64 // -1: no stream
	IDs      []string
}

const (
	outOK = iota
	outConflict
	outUnknown
	outRead
)

type chOutput struct {
	Kind    int
	First   uint64   // outOK: first revision
	Current int64    // outConflict: the stream's revision (-1: none)
	Read    []string // outRead: every event id of the stream
}

// streamModel is a stream as a comma-joined list of event ids.
var streamModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			s := op.Input.(chInput).Stream
			if _, ok := by[s]; !ok {
				keys = append(keys, s)
			}
			by[s] = append(by[s], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []any { return []any{""} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(string), input.(chInput), output.(chOutput)
		var ids []string
		if s != "" {
			ids = strings.Split(s, ",")
		}
		if !in.Append {
			if strings.Join(out.Read, ",") == s {
				return []any{s}
			}
			return nil
		}
		n := len(ids)
		at := runIndex(ids, in.IDs)
		fits := (in.Expected == -1 && n == 0) || (in.Expected >= 0 && int64(n-1) == in.Expected)
		grown := strings.Join(append(slices.Clone(ids), in.IDs...), ",")
		switch out.Kind {
		case outOK:
			if at >= 0 && out.First == uint64(at) { // an idempotent retry
				return []any{s}
			}
			if at < 0 && fits && out.First == uint64(n) {
				return []any{grown}
			}
		case outConflict:
			if at < 0 && !fits && out.Current == int64(n-1) {
				return []any{s}
			}
		case outUnknown:
			if at < 0 && fits {
				return []any{s, grown}
			}
			return []any{s}
		}
		return nil
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(chInput), output.(chOutput)
		if !in.Append {
			return fmt.Sprintf("read %s -> %d events", in.Stream, len(out.Read))
		}
		return fmt.Sprintf("append %s exp %d %v -> %+v", in.Stream, in.Expected, in.IDs, out)
	},
}

// runIndex returns where ids appear as a contiguous run in all, or -1.
func runIndex(all, ids []string) int {
	for i := 0; i+len(ids) <= len(all); i++ {
		if all[i] == ids[0] && slices.Equal(all[i:i+len(ids)], ids) {
			return i
		}
	}
	return -1
}

// history records operations from many goroutines.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
	acked []ackedAppend
}

type ackedAppend struct {
	stream string
	ids    []string
	first  uint64
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(client int, in chInput, call int64, out chOutput) {
	ret := h.now()
	if out.Kind == outUnknown {
		ret = 1<<63 - 1 // it may take effect at any time after its call
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if in.Append && out.Kind == outOK {
		h.acked = append(h.acked, ackedAppend{in.Stream, in.IDs, out.First})
	}
	h.mu.Unlock()
}

func chaosDuration(t *testing.T) time.Duration {
	if v := os.Getenv("LOGBOOK_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOGBOOK_CHAOS_DURATION: %v", err)
		}
		return d
	}
	return 12 * time.Second
}

// chaosStores are the stores under load: the default one and three more
// (three replicas each), whose leaders the balancer spreads over the nodes,
// so that every fault hits some store's leader and others' followers.
var chaosStores = []string{"default", "chaos-a", "chaos-b", "chaos-c"}

// storeLoad is one store's writers and readers and their history.
type storeLoad struct {
	id    string
	store *client.Store
	h     *history
}

const chaosStreams, chaosWritersPerStream = 2, 2

func TestChaosClusterLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test skipped in -short mode")
	}
	kinds := []string{"kill9", "sigstop", "partition"}
	network, why := newChaosNet(t, 3)
	var c *procCluster
	if network != nil {
		c = startNetnsProcCluster(t, 3, network)
		t.Logf("storenodes in network namespaces %s-n1..3 (169.254.%d.0/24): partitions on", network.run, network.subnet)
	} else {
		kinds = kinds[:2]
		c = startProcCluster(t, 3)
		t.Logf("partition faults skipped: %s", why)
	}
	for _, id := range chaosStores[1:] {
		if _, err := c.Client.Stores().Create(ctxT(t), id, nil); err != nil {
			t.Fatalf("create store %s: %v", id, err)
		}
	}
	t.Logf("leaders: %v", waitLeadersSpread(t, c, 90*time.Second))

	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0) }
	loads, stopWork := startChaosLoad(t0, c)
	defer stopWork()

	// Faults, one node at a time, each from a settled cluster and followed
	// by its recovery window, for the chosen duration. The first is kill -9
	// of the default store's leader; then every (kind, node) pair comes once
	// per round, in a random order.
	deadline := time.Now().Add(chaosDuration(t))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var plan []fault
	time.Sleep(2 * time.Second)
	var faults []fault
	for i := 0; i == 0 || time.Now().Before(deadline); i++ {
		leaders := waitSettled(t, c, 60*time.Second)
		if len(plan) == 0 {
			for _, k := range kinds {
				for id := uint64(1); id <= 3; id++ {
					plan = append(plan, fault{kind: k, node: id})
				}
			}
			rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
		}
		f := plan[0]
		plan = plan[1:]
		if i == 0 {
			f = fault{kind: "kill9", node: leaders["default"]}
		}
		f.leaders = leaders
		f.start = since()
		switch f.kind {
		case "kill9":
			c.kill9(f.node)
			time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
			c.restart(f.node)
			c.waitReady(f.node)
		case "sigstop":
			c.pause(f.node)
			time.Sleep(time.Duration(1000+rng.IntN(1500)) * time.Millisecond)
			c.resume(f.node)
		case "partition":
			network.cut(f.node)
			time.Sleep(time.Duration(1000+rng.IntN(1500)) * time.Millisecond)
			network.heal(f.node)
		}
		f.end = since()
		t.Logf("%s of node %d (leader of %v) from %s to %s", f.kind, f.node, ledBy(leaders, f.node), ms(f.start), ms(f.end))
		time.Sleep(recoveryWindow + time.Duration(rng.IntN(500))*time.Millisecond)
		f.after = waitSettled(t, c, 60*time.Second)
		faults = append(faults, f)
	}
	stopWork()
	end := since()
	acks := checkChaosLoads(t, loads)
	t.Logf("%d faults", len(faults))
	reportPauses(t, faults, acks, end)
}

// startChaosLoad starts the writers and readers of every chaos store;
// stop ends them and waits for them (idempotent).
func startChaosLoad(t0 time.Time, c *procCluster) (loads []*storeLoad, stop func()) {
	for _, id := range chaosStores {
		loads = append(loads, &storeLoad{id: id, store: c.Client.Store(id), h: &history{start: t0}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range loads {
		for w := range chaosStreams * chaosWritersPerStream {
			wg.Go(func() {
				chaosWriter(ctx, l.store, l.h, w, fmt.Sprintf("acct-%d", w%chaosStreams))
			})
		}
		wg.Go(func() {
			chaosReader(ctx, l.store, l.h, chaosStreams*chaosWritersPerStream, chaosStreams)
		})
	}
	var once sync.Once
	return loads, func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// checkChaosLoads reads every stream back once the load stopped and checks
// each store (a subtest each): integrity and linearizability. It returns
// each store's acknowledgement times.
func checkChaosLoads(t *testing.T, loads []*storeLoad) map[string][]time.Duration {
	vctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	acks := map[string][]time.Duration{}
	for _, l := range loads {
		t.Run(l.id, func(t *testing.T) {
			for s := range chaosStreams {
				stream := fmt.Sprintf("acct-%d", s)
				call := l.h.now()
				page, err := readAllOf(vctx, l.store, stream)
				if err != nil {
					t.Fatalf("final read of %s: %v", stream, err)
				}
				l.h.add(0, chInput{Stream: stream}, call, chOutput{Kind: outRead, Read: page})
			}
			checkStoreIntegrity(t, vctx, l.store, l.h)
			checkLinearizable(t, l.h)
		})
		acks[l.id] = l.h.ackTimes()
	}
	return acks
}

// ledBy lists the stores node leads.
func ledBy(leaders map[string]uint64, node uint64) []string {
	var out []string
	for s, l := range leaders {
		if l == node {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// ackTimes returns when each acknowledged append's reply arrived, sorted.
func (h *history) ackTimes() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var acks []time.Duration
	for _, op := range h.ops {
		if op.Input.(chInput).Append && op.Output.(chOutput).Kind == outOK {
			acks = append(acks, time.Duration(op.Return))
		}
	}
	slices.Sort(acks)
	return acks
}

// checkLinearizable checks a store's history with porcupine and that the
// store served: enough appends acknowledged.
func checkLinearizable(t *testing.T, h *history) {
	t.Helper()
	appends, unknown := 0, 0
	for _, op := range h.ops {
		if op.Input.(chInput).Append {
			appends++
			if op.Output.(chOutput).Kind == outUnknown {
				unknown++
			}
		}
	}
	res, info := porcupine.CheckOperationsVerbose(streamModel.ToModel(), h.ops, 60*time.Second)
	t.Logf("%d operations (%d appends, %d acknowledged, %d with unknown outcome): %s",
		len(h.ops), appends, len(h.acked), unknown, res)
	if res != porcupine.Ok {
		if f, err := os.CreateTemp("", "chaos-*.html"); err == nil {
			porcupine.Visualize(streamModel.ToModel(), info, f)
			f.Close()
			t.Logf("visualization: %s", f.Name())
		}
		t.Fatalf("history is not linearizable: %s", res)
	}
	if len(h.acked) < 50 {
		t.Fatalf("only %d appends acknowledged: the store hardly served", len(h.acked))
	}
}

func leaderOf(t *testing.T, c *procCluster, store string) uint64 {
	t.Helper()
	var leader uint64
	eventually(t, 10*time.Second, func() error {
		v, err := c.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		s, err := storeOf(v, store)
		if err != nil || s.Leader == 0 {
			return fmt.Errorf("no leader for %s: %+v %v", store, s, err)
		}
		leader = s.Leader
		return nil
	})
	return leader
}

// chaosWriter appends to one stream with optimistic concurrency; an append
// whose outcome is unknown is sent again with the same event ids.
func chaosWriter(ctx context.Context, store *client.Store, h *history, id int, stream string) {
	expected := int64(-1)
	for ctx.Err() == nil {
		n := 1 + id%3
		ids := make([]string, n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		for ctx.Err() == nil {
			in := chInput{Append: true, Stream: stream, Expected: expected, IDs: ids}
			call := h.now()
			out := doAppend(ctx, store, in)
			if ctx.Err() != nil && out.Kind == outUnknown {
				h.add(id, in, call, out)
				return
			}
			h.add(id, in, call, out)
			if out.Kind == outOK {
				expected = int64(out.First) + int64(len(ids)) - 1
				break
			}
			if out.Kind == outConflict {
				expected = out.Current
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func doAppend(ctx context.Context, store *client.Store, in chInput) chOutput {
	exp := client.NoStream
	if in.Expected >= 0 {
		exp = client.Exact(uint64(in.Expected))
	}
	evs := make([]client.Event, len(in.IDs))
	for i, id := range in.IDs {
		evs[i] = client.Event{ID: id, Type: "Deposited", Data: []byte(id[:8])}
	}
	// The client's own deadline and retries, as an application would run
	// them: an attempt that a dead leader leaves unanswered is resent.
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := store.Append(actx, in.Stream, exp, evs...)
	if err == nil {
		return chOutput{Kind: outOK, First: res.FirstRevision}
	}
	if e := codes.As(err); e != nil && e.Code == codes.WrongExpectedRevision {
		cur := int64(-1)
		if e.CurrentRevision != nil {
			cur = int64(*e.CurrentRevision)
		}
		return chOutput{Kind: outConflict, Current: cur}
	}
	if e := codes.As(err); e != nil && !e.Code.Retryable() {
		panic(fmt.Sprintf("append failed with a non-retryable error: %v", err))
	}
	return chOutput{Kind: outUnknown}
}

func chaosReader(ctx context.Context, store *client.Store, h *history, id, streams int) {
	for i := 0; ctx.Err() == nil; i++ {
		stream := fmt.Sprintf("acct-%d", i%streams)
		call := h.now()
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ids, err := readAllOf(rctx, store, stream)
		cancel()
		if err == nil {
			h.add(id, chInput{Stream: stream}, call, chOutput{Kind: outRead, Read: ids})
		} else if e := codes.As(err); e != nil && !e.Code.Retryable() && e.Code != codes.StreamNotFound {
			panic(fmt.Sprintf("read failed with a non-retryable error: %v", err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAllOf reads a whole stream's event ids; a stream not written yet is empty.
func readAllOf(ctx context.Context, store *client.Store, stream string) ([]string, error) {
	var ids []string
	from := uint64(0)
	for {
		page, err := store.Read(ctx, stream, client.ReadOptions{From: client.Revision(from), MaxCount: 1000})
		if e := codes.As(err); e != nil && e.Code == codes.StreamNotFound {
			return []string{}, nil
		}
		if err != nil {
			return nil, err
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		if page.EndOfStream || len(page.Events) == 0 {
			return ids, nil
		}
		from = page.NextRevision
	}
}

// checkStoreIntegrity reads $all: positions gapless, no event id twice,
// each stream's revisions dense, every acknowledged append where it was
// acknowledged.
func checkStoreIntegrity(t *testing.T, ctx context.Context, store *client.Store, h *history) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]uint64{}
	byStream := map[string][]string{}
	var from *uint64
	var lastPos uint64
	first := true
	for {
		page, err := store.ReadAll(ctx, client.ReadAllOptions{From: from, MaxCount: 1000})
		if err != nil {
			t.Fatalf("read $all: %v", err)
		}
		for _, ev := range page.Events {
			if !first && ev.Position != lastPos+1 {
				t.Fatalf("positions jump from %d to %d", lastPos, ev.Position)
			}
			first, lastPos = false, ev.Position
			if seen[ev.ID] {
				t.Fatalf("event %s stored twice", ev.ID)
			}
			seen[ev.ID] = true
			if ev.Revision != next[ev.Stream] {
				t.Fatalf("stream %s: revision %d after %d events", ev.Stream, ev.Revision, next[ev.Stream])
			}
			next[ev.Stream]++
			byStream[ev.Stream] = append(byStream[ev.Stream], ev.ID)
		}
		if page.EndOfStore || len(page.Events) == 0 {
			break
		}
		p := page.NextPosition
		from = &p
	}
	for _, a := range h.acked {
		got := byStream[a.stream]
		if int(a.first)+len(a.ids) > len(got) || !slices.Equal(got[a.first:int(a.first)+len(a.ids)], a.ids) {
			t.Fatalf("acknowledged append %v at %s@%d is missing", a.ids, a.stream, a.first)
		}
	}
	if len(seen) == 0 {
		t.Fatal("nothing stored")
	}
	t.Logf("$all: %d events, positions gapless up to %d", len(seen), lastPos)
}

package benchkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	l := Latencies{5, 1, 4, 2, 3}
	l.Sort()
	if l.Percentile(0.5) != 3 || l.Percentile(1) != 5 || l.Percentile(0.01) != 1 {
		t.Fatalf("percentiles of %v", l)
	}
	if Median([]time.Duration{4, 1, 3, 2}) != 2 || Median(nil) != 0 {
		t.Fatal("median")
	}
}

func TestRunCountsSuccessesAndErrors(t *testing.T) {
	out := Run(context.Background(), 3, time.Now().Add(50*time.Millisecond), func(ctx context.Context, k, j int) error {
		time.Sleep(time.Millisecond)
		if k == 0 && j%2 == 1 {
			return errors.New("odd")
		}
		return nil
	})
	if out.Errors == 0 || out.FirstError == nil || len(out.Lat) == 0 || out.Elapsed < 50*time.Millisecond {
		t.Fatalf("%+v", out)
	}
}

// fakeAppender appends to in-memory streams, failing where told to.
type fakeAppender struct {
	mu      *sync.Mutex
	server  map[string]uint64 // stream -> events
	fail    func(s *fakeStream) bool
	lookups *int
}

type fakeStream struct {
	name   string
	last   uint64
	client int
}

func (a fakeAppender) Append(_ context.Context, s *fakeStream, _ []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil && a.fail(s) {
		a.server[s.name]++ // written, but the client hears of a failure
		return errors.New("lost reply")
	}
	a.server[s.name]++
	s.last = a.server[s.name]
	return nil
}

func (a fakeAppender) Lookup(_ context.Context, s *fakeStream) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	*a.lookups++
	s.last = a.server[s.name]
	return nil
}

func (a fakeAppender) Close() {}

func TestWarmUpAndAppends(t *testing.T) {
	var mu sync.Mutex
	server, lookups := map[string]uint64{}, 0
	var streams []*fakeStream
	for i := range 10 {
		streams = append(streams, &fakeStream{name: fmt.Sprint("s", i)})
	}
	opened := 0
	clients, closeAll, err := Connect(3, func(k int) (Appender[*fakeStream], error) {
		opened++
		return fakeAppender{mu: &mu, server: server, lookups: &lookups, fail: func(s *fakeStream) bool { return s.name == "s4" && s.last == 1 }}, nil
	})
	defer closeAll()
	if err != nil || len(clients) != 3 || opened != 3 {
		t.Fatalf("Connect: %d clients, %v", len(clients), err)
	}
	name := func(s *fakeStream) string { return s.name }
	if _, err := WarmUp(context.Background(), clients, streams, 4, time.Second, name, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if server[s.name] != 1 || s.last != 1 {
			t.Fatalf("after the warm-up %s has %d events, client saw %d", s.name, server[s.name], s.last)
		}
	}
	// Client 1 owns s4, whose next append fails: the lookup sets it right.
	op := Appends(clients, [][]*fakeStream{{streams[0]}, {streams[4]}, {streams[8]}}, time.Second, name, nil)
	if err := op(context.Background(), 1, 0); err == nil || !strings.Contains(err.Error(), "s4: lost reply") {
		t.Fatalf("failed append: %v", err)
	}
	if lookups != 1 || streams[4].last != 2 {
		t.Fatalf("after a failed append: %d lookups, client sees %d", lookups, streams[4].last)
	}
	if err := op(context.Background(), 1, 1); err != nil || streams[4].last != 3 {
		t.Fatalf("next append: %v, last %d", err, streams[4].last)
	}
}

func TestConnectClosesWhatItOpenedOnError(t *testing.T) {
	closed := 0
	_, closeAll, err := Connect(3, func(k int) (Appender[int], error) {
		if k == 2 {
			return nil, errors.New("refused")
		}
		return closer{&closed}, nil
	})
	closeAll()
	if err == nil || closed != 2 {
		t.Fatalf("err %v, %d closed", err, closed)
	}
}

type closer struct{ n *int }

func (c closer) Append(context.Context, int, []byte) error { return nil }
func (c closer) Lookup(context.Context, int) error         { return nil }
func (c closer) Close()                                    { *c.n++ }

func TestParallelReturnsTheFirstError(t *testing.T) {
	err := Parallel(4, func(k int) error {
		if k >= 2 {
			return fmt.Errorf("worker %d", k)
		}
		return nil
	})
	if err == nil || err.Error() != "worker 2" {
		t.Fatalf("Parallel: %v", err)
	}
}

func TestFound(t *testing.T) {
	notFound := errors.New("not found")
	if ok, last, err := found(fmt.Errorf("lookup: %w", notFound), notFound, nil); ok || last != 0 || err != nil {
		t.Fatalf("not found: %v %d %v", ok, last, err)
	}
	other := errors.New("timeout")
	if ok, _, err := found(other, notFound, nil); ok || err != other {
		t.Fatalf("other error: %v %v", ok, err)
	}
	if ok, last, err := found(nil, notFound, func() uint64 { return 7 }); !ok || last != 7 || err != nil {
		t.Fatalf("found: %v %d %v", ok, last, err)
	}
}

// TestForEach: every item is done once; after an error no new item starts
// and the error is returned.
func TestForEach(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	err := ForEach(context.Background(), 100, 8, func(_ context.Context, i int) error {
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	})
	if err != nil || len(seen) != 100 {
		t.Fatalf("ForEach: %v, %d items seen; want nil, 100", err, len(seen))
	}
	for i, n := range seen {
		if i < 1 || i > 100 || n != 1 {
			t.Fatalf("item %d done %d times", i, n)
		}
	}

	boom := errors.New("boom")
	var calls atomic.Int64
	err = ForEach(context.Background(), 1000, 4, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		<-ctx.Done() // the other workers' items end only with the error
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ForEach with a failing item: %v; want %v", err, boom)
	}
	// Items 1 to 3 were taken, and at most one more by the fourth worker.
	if n := calls.Load(); n < 3 || n > 4 {
		t.Fatalf("%d items started; want those taken before the error (3 or 4), the rest skipped", n)
	}
}

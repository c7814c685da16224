package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// checkStream is the stream every store gets one event in.
const checkStream = "lbstores-check"

// token is the data of the check event of a store: unique to the run, so a
// reused -dir cannot pass for this run's event.
func token(run int64, id string) []byte { return fmt.Appendf(nil, "lbstores:%d:%s", run, id) }

// opsResult is the outcome of one operation over every store.
type opsResult struct {
	Stores      int            `json:"stores"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	TotalS      float64        `json:"total_s"`
	Latency     latencySummary `json:"latency"`
	FirstErrors []string       `json:"first_errors,omitempty"`
}

// forEachStore runs op on every id with n workers and times each call.
func forEachStore(ctx context.Context, ids []string, n int, timeout time.Duration, op func(context.Context, string) error) *opsResult {
	res := &opsResult{Stores: len(ids)}
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	ch := make(chan string)
	t0 := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				octx, cancel := context.WithTimeout(ctx, timeout)
				t := time.Now()
				err := op(octx, id)
				d := time.Since(t)
				cancel()
				mu.Lock()
				if err != nil {
					res.Failed++
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, fmt.Sprintf("%s: %v", id, err))
					}
				} else {
					res.OK++
					lats = append(lats, d)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case ch <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	res.TotalS = time.Since(t0).Seconds()
	res.Latency = summarize(lats)
	res.Failed += res.Stores - res.OK - res.Failed // never attempted: the run stopped
	return res
}

// appendCheck appends the store's check event.
func appendCheck(c *client.Client, run int64) func(context.Context, string) error {
	return func(ctx context.Context, id string) error {
		_, err := c.Store(id).Append(ctx, checkStream, client.Any, client.Event{Type: "lbstores.check", Data: token(run, id)})
		return err
	}
}

// readCheck reads the last event of the store's check stream and compares it
// with what appendCheck wrote.
func readCheck(c *client.Client, run int64) func(context.Context, string) error {
	return func(ctx context.Context, id string) error {
		page, err := c.Store(id).Read(ctx, checkStream, client.ReadOptions{Direction: client.Backward, MaxCount: 1})
		if err != nil {
			return err
		}
		if len(page.Events) != 1 {
			return fmt.Errorf("read %d events, want 1", len(page.Events))
		}
		ev := page.Events[0]
		if ev.Type != "lbstores.check" || !bytes.Equal(ev.Data, token(run, id)) {
			return fmt.Errorf("last event is %s %q, want lbstores.check %q", ev.Type, ev.Data, token(run, id))
		}
		return nil
	}
}

// listResult is what paging through stores.list found.
type listResult struct {
	Listed   int            `json:"listed"` // every store, the default store included
	Pages    int            `json:"pages"`
	Missing  int            `json:"missing"` // of the stores this run created
	ByStatus map[string]int `json:"by_status"`
	TotalS   float64        `json:"total_s"`
	Error    string         `json:"error,omitempty"`
}

// listAll pages through every store (default page size) and checks that
// every id in want is there.
func listAll(ctx context.Context, c *client.Client, want []string) *listResult {
	res := &listResult{ByStatus: map[string]int{}}
	t0 := time.Now()
	seen := map[string]bool{}
	after := ""
	for {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		page, err := c.Stores().List(lctx, after, 0)
		cancel()
		if err != nil {
			res.Error = fmt.Sprintf("list after %q: %v", after, err)
			break
		}
		res.Pages++
		for _, s := range page.Stores {
			seen[s.Store] = true
			res.ByStatus[s.Status]++
		}
		res.Listed += len(page.Stores)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	for _, id := range want {
		if !seen[id] {
			res.Missing++
		}
	}
	res.TotalS = time.Since(t0).Seconds()
	return res
}

// running counts the listed stores that serve requests.
func (l *listResult) running() int {
	return l.ByStatus[wire.StatusRunning] + l.ByStatus[wire.StatusDegraded]
}

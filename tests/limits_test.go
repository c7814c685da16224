package tests

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/logbook/embed"
)

// Configured limits are enforced end to end; a limit left at zero keeps its
// default instead of becoming "nothing allowed".
func TestConfiguredLimits(t *testing.T) {
	in := startLogbook(t, func(c *embed.Config) {
		c.Limits = wire.Limits{MaxEventSize: 1000, MaxAppendEvents: 3, MaxReplySize: 3000}
	})
	ctx, s := ctxT(t), in.Store
	_, err := s.Append(ctx, "l", client.Any, client.Event{Type: "T", Data: bytes.Repeat([]byte("x"), 1001)})
	wantCode(t, err, codes.EventTooLarge)
	_, err = s.Append(ctx, "l", client.Any, ev("T", "1"), ev("T", "2"), ev("T", "3"), ev("T", "4"))
	wantCode(t, err, codes.TooManyEvents)
	for i := range 6 {
		if _, err := s.Append(ctx, "l", client.Any, client.Event{Type: "T", Data: bytes.Repeat([]byte{byte('a' + i)}, 900)}); err != nil {
			t.Fatal(err)
		}
	}
	// Replies stop under 3000 bytes (~900 bytes of data each), with a cursor;
	// max_read_count was left at zero and still allows 100 events.
	p, err := s.Read(ctx, "l", client.ReadOptions{MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) == 0 || len(p.Events) >= 6 || p.EndOfStream || p.NextRevision != uint64(len(p.Events)) {
		t.Fatalf("page of %d events, end %v, next %d", len(p.Events), p.EndOfStream, p.NextRevision)
	}
	all := readAllForward(t, s, nil, 100)
	if len(all) != 6 {
		t.Fatalf("$all in small pages: %d events", len(all))
	}
	for i, e := range all {
		if e.Data[0] != byte('a'+i) {
			t.Fatal(fmt.Sprintf("event %d out of order", i))
		}
	}
}

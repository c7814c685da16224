package lifecycle

import (
	"errors"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

func TestResolveSettings(t *testing.T) {
	l := New(Config{RequestTimeout: 5 * time.Second, Limits: wire.Limits{}.WithDefaults()})
	lim := l.cfg.Limits
	i := func(v int64) *int64 { return &v }

	def, err := l.resolveSettings(nil, 2)
	want := meta.Settings{ReplicationFactor: 2, RequestTimeoutMs: 5000, MaxEventSize: int64(lim.MaxEventSize),
		MaxAppendEvents: int64(lim.MaxAppendEvents), MaxReadCount: int64(lim.MaxReadCount)}
	if err != nil || def != want {
		t.Fatalf("defaults %+v, %v; want %+v", def, err, want)
	}
	if s, _ := l.resolveSettings(nil, 9); s.ReplicationFactor != 3 {
		t.Errorf("default replication factor with 9 nodes: %d", s.ReplicationFactor)
	}
	got, err := l.resolveSettings(&wire.StoreSettings{ReplicationFactor: i(5), RequestTimeoutMs: i(100), MaxReadCount: i(1)}, 1)
	if err != nil || got.ReplicationFactor != 5 || got.RequestTimeoutMs != 100 || got.MaxReadCount != 1 {
		t.Fatalf("in range: %+v, %v", got, err)
	}
	// A quota: 0 is no limit, any positive value is one.
	q, err := l.resolveSettings(&wire.StoreSettings{MaxEvents: i(0), MaxBytes: i(1 << 40)}, 1)
	if err != nil || q.MaxEvents != 0 || q.MaxBytes != 1<<40 || !q.HasQuota() {
		t.Fatalf("quota: %+v, %v", q, err)
	}
	// A store may be stricter than the cluster, never looser.
	for name, in := range map[string]wire.StoreSettings{
		"replication_factor 0":   {ReplicationFactor: i(0)},
		"replication_factor 8":   {ReplicationFactor: i(8)},
		"timeout below 100ms":    {RequestTimeoutMs: i(99)},
		"timeout above cluster":  {RequestTimeoutMs: i(5001)},
		"event size above limit": {MaxEventSize: i(int64(lim.MaxEventSize) + 1)},
		"append events 0":        {MaxAppendEvents: i(0)},
		"negative max_events":    {MaxEvents: i(-1)},
		"negative max_bytes":     {MaxBytes: i(-1)},
	} {
		var ce *codes.Error
		if _, err := l.resolveSettings(&in, 3); !errors.As(err, &ce) || ce.Code != codes.InvalidSettings {
			t.Errorf("%s: %v, want invalid_settings", name, err)
		}
	}
}

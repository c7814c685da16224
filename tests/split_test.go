package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
)

// A second Logbook with its own data, started on the first one's NATS
// server, must not serve the same store id: requests would otherwise be
// spread over two unrelated databases. It fails to start, loudly, and the
// first one keeps serving with its revisions intact.
func TestSecondLogbookOnSameNATSRefusesToSplitStore(t *testing.T) {
	a := startLogbook(t)
	ctx := ctxT(t)
	if _, err := a.Store.Append(ctx, "acct", client.NoStream, ev("Opened", "")); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(sctx, embed.Config{
		DataDir: t.TempDir(), NATSURL: a.natsURL, RaftAddress: freeAddr(t), Logger: testLogger(),
	})
	if err == nil {
		b.Close()
		t.Fatal("a second Logbook with other data started serving the same store")
	}
	if !strings.Contains(err.Error(), "another Logbook cluster") && !strings.Contains(err.Error(), "node id 1 is already used") {
		t.Fatalf("unexpected error: %v", err)
	}
	// The first one still serves alone: every exact-revision append lands.
	for rev := uint64(0); rev < 20; rev++ {
		if _, err := a.Store.Append(ctx, "acct", client.Exact(rev), ev("Deposited", "")); err != nil {
			t.Fatalf("append at %d: %v", rev, err)
		}
	}
	if info, err := a.Store.StreamInfo(ctx, "acct"); err != nil || info.EventCount != 21 {
		t.Fatalf("info %+v %v", info, err)
	}
}

package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/backupfile"
	"github.com/logbookdb/logbook/pkg/client"
)

// TestBackupSpeed measures a backup and a restore of N events of 256 bytes
// (in 1000-event appends to 100 streams) on the embedded Logbook. It runs
// only when asked, and reports figures rather than asserting them:
//
//	LOGBOOK_BACKUP_BENCH=200000 go test ./tests/ -run TestBackupSpeed -count=1 -v
func TestBackupSpeed(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LOGBOOK_BACKUP_BENCH"))
	if n <= 0 {
		t.Skip("set LOGBOOK_BACKUP_BENCH to a number of events")
	}
	in := startLogbook(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	payload := bytes.Repeat([]byte("p"), 256)
	for i := 0; i < n; i += 1000 {
		evs := make([]client.Event, min(1000, n-i))
		for j := range evs {
			evs[j] = client.Event{Type: "T", Data: payload}
		}
		if _, err := in.Store.Append(ctx, fmt.Sprintf("s-%d", (i/1000)%100), client.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	start := time.Now()
	sum, err := in.Store.Backup(ctx, &file, nil)
	if err != nil {
		t.Fatal(err)
	}
	bd := time.Since(start)
	start = time.Now()
	if _, _, err := backupfile.Verify(bytes.NewReader(file.Bytes())); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify %v", time.Since(start))
	start = time.Now()
	if _, err := in.Client.Stores().Restore(ctx, bytes.NewReader(file.Bytes()), "copy", client.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	rd := time.Since(start)
	t.Logf("%d events, file %.1f MiB: backup %v (%.0f events/s, %.1f MiB/s), restore %v (%.0f events/s, %.1f MiB/s; verify pass included)",
		sum.Counts.Events, float64(sum.Bytes)/(1<<20), bd.Round(time.Millisecond), float64(n)/bd.Seconds(), float64(sum.Bytes)/(1<<20)/bd.Seconds(),
		rd.Round(time.Millisecond), float64(n)/rd.Seconds(), float64(sum.Bytes)/(1<<20)/rd.Seconds())
}

package tests

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/backupfile"
	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Backup and restore (schemas/backup.md) against a real Logbook.

// fillBackupSource gives store s several streams (about 3 MB of events,
// so a backup takes several chunks), a deleted stream, snapshots, and two
// persistent subscriptions: one consumed up to a checkpoint with a parked
// event, one created at the end.
func fillBackupSource(t *testing.T, s *client.Store) {
	t.Helper()
	ctx := ctxT(t)
	payload := bytes.Repeat([]byte("x"), 900)
	for i := range 30 {
		evs := make([]client.Event, 100)
		for j := range evs {
			evs[j] = client.Event{Type: "OrderLine", Data: fmt.Appendf(bytes.Clone(payload), "%d-%d", i, j),
				DataContentType: "text/plain", Metadata: []byte(fmt.Sprintf(`{"i":%d}`, j)), MetadataContentType: "application/json"}
		}
		if _, err := s.Append(ctx, fmt.Sprintf("order-%d", i%3), client.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "temp-1", client.NoStream, client.Event{Type: "Tmp", Data: []byte("t")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveSnapshot(ctx, "temp-1", client.NewSnapshot{Version: 0, Type: "Tmp", Data: []byte("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteStream(ctx, "temp-1", client.Any); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{10, 999} {
		if _, err := s.SaveSnapshot(ctx, "order-0", client.NewSnapshot{Version: v, Type: "Order", Data: fmt.Appendf(nil, `{"v":%d}`, v),
			DataContentType: "application/json", Metadata: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSubscription(ctx, "billing", client.SubscriptionOptions{Filter: &client.SubscriptionFilter{Category: "order"}}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(cctx, "billing", func(ctx context.Context, m *client.Message) {
			if m.Event.Position == 2 {
				m.Nack(ctx, client.Park, 0)
				return
			}
			m.Ack(ctx)
		}, client.ConsumeOptions{Heartbeat: 200 * time.Millisecond})
	}()
	waitFor(t, "billing checkpoint past 100", func() bool {
		info, err := s.SubscriptionInfo(ctx, "billing")
		return err == nil && info.Checkpoint > 100 && info.ParkedCount == 1
	})
	cancel()
	<-done
	// Acks already sent settle in the leader's next progress proposal:
	// wait until the checkpoint stays put, so that the backup and the
	// source agree on it.
	last := uint64(0)
	eventually(t, 20*time.Second, func() error {
		time.Sleep(300 * time.Millisecond)
		info, err := s.SubscriptionInfo(ctx, "billing")
		if err != nil {
			return err
		}
		if info.Checkpoint != last {
			last = info.Checkpoint
			return fmt.Errorf("checkpoint %d", info.Checkpoint)
		}
		return nil
	})
	if _, err := s.CreateSubscription(ctx, "audit", client.SubscriptionOptions{FromEnd: true}); err != nil {
		t.Fatal(err)
	}
}

// readAllEvents reads every event of a store below position end.
func readAllEvents(t *testing.T, s *client.Store, end uint64) []client.RecordedEvent {
	t.Helper()
	var out []client.RecordedEvent
	from := uint64(0)
	for from < end {
		p, err := s.ReadAll(ctxT(t), client.ReadAllOptions{From: &from, MaxCount: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if e.Position < end {
				out = append(out, e)
			}
		}
		if p.EndOfStore || len(p.Events) == 0 {
			break
		}
		from = p.NextPosition
	}
	return out
}

// The round trip: a backup taken while appends keep coming holds exactly
// the events below its position, and the store restored from it reads back
// identical: events (positions, revisions, ids, timestamps, payloads),
// streams (the deleted one stays deleted), snapshots, subscriptions with
// their checkpoints and parked events. The restored store serves appends
// at the next position.
func TestBackupRestoreRoundTrip(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	src := in.Store
	fillBackupSource(t, src)

	// Appends run during the backup.
	var appended atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := src.Append(context.Background(), "live-1", client.Any, client.Event{Type: "Tick", Data: fmt.Appendf(nil, "%d", i)}); err == nil {
				appended.Add(1)
			}
		}
	}()
	waitFor(t, "appends running", func() bool { return appended.Load() > 20 })
	before := appended.Load()
	var file bytes.Buffer
	chunks := 0
	sum, err := src.Backup(ctx, &file, func(client.BackupProgress) { chunks++ })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "appends after the backup", func() bool { return appended.Load() > before+50 })
	close(stop)
	wg.Wait()
	if chunks < 3 {
		t.Errorf("the backup came in %d chunk(s); the test wants several", chunks)
	}
	if in.lb == nil {
		t.Fatal("no logbook")
	}

	// Exactly the events below the backup's position: no more, no fewer.
	h, n, err := backupfile.Verify(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if *h != sum.Header || n != sum.Counts || n.Events != h.Position || h.Store != "default" {
		t.Fatalf("file header %+v counts %+v; summary %+v", h, n, sum)
	}
	if n.Streams != 5 || n.Snapshots != 2 || n.Subscriptions != 2 || n.Parked != 1 {
		t.Fatalf("counts %+v: want 5 streams (one deleted), 2 snapshots, 2 subscriptions, 1 parked", n)
	}
	head, err := src.ReadAll(ctx, client.ReadAllOptions{Direction: client.Backward, MaxCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	if last := head.Events[0].Position; last < h.Position {
		t.Fatalf("no append landed after the backup's position %d (last %d)", h.Position, last)
	}
	fileEvents := map[uint64]wire.BackupEvent{}
	r := backupfile.NewReader(bytes.NewReader(file.Bytes()))
	r.Header()
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Events {
			fileEvents[e.Position] = e
		}
	}
	srcEvents := readAllEvents(t, src, h.Position)
	if uint64(len(srcEvents)) != h.Position || len(fileEvents) != len(srcEvents) {
		t.Fatalf("source has %d events below %d, the file %d", len(srcEvents), h.Position, len(fileEvents))
	}
	for _, e := range srcEvents {
		f := fileEvents[e.Position]
		if f.ID != e.ID || f.Stream != e.Stream || f.Revision != e.Revision || f.Timestamp != e.Timestamp || !bytes.Equal(f.Data, e.Data) {
			t.Fatalf("event %d: file %+v, store %+v", e.Position, f, e)
		}
	}

	// Restore into a new store.
	var progressed uint64
	restored, err := in.Client.Stores().Restore(ctx, bytes.NewReader(file.Bytes()), "copy", client.RestoreOptions{
		Progress: func(p client.BackupProgress) { progressed = p.Events }})
	if err != nil {
		t.Fatal(err)
	}
	if restored.Counts != n || progressed != n.Events {
		t.Fatalf("restored %+v (progress %d), want %+v", restored.Counts, progressed, n)
	}
	if st, err := in.Client.Stores().Status(ctx, "copy"); err != nil || st.Status != wire.StatusRunning {
		t.Fatalf("restored store status %+v %v", st, err)
	}
	dst := in.Client.Store("copy")
	if got := readAllEvents(t, dst, ^uint64(0)); !reflect.DeepEqual(got, srcEvents) {
		t.Fatalf("restored events differ: %d events, want %d", len(got), len(srcEvents))
	}
	for i := range 3 {
		stream := fmt.Sprintf("order-%d", i)
		a, err1 := src.StreamInfo(ctx, stream)
		b, err2 := dst.StreamInfo(ctx, stream)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("stream %s: source %+v %v, restored %+v %v", stream, a, err1, b, err2)
		}
	}
	if a, b := streamInfo(t, src, "temp-1"), streamInfo(t, dst, "temp-1"); !b.Deleted || !reflect.DeepEqual(a, b) {
		t.Fatalf("the deleted stream: source %+v, restored %+v", a, b)
	}
	if _, err := dst.Append(ctx, "temp-1", client.Any, client.Event{Type: "X"}); !errors.Is(err, client.ErrStreamDeleted) {
		t.Fatalf("append to the deleted stream of the restored store: %v", err)
	}
	sa, _ := src.ListSnapshots(ctx, "order-0", client.ListSnapshotsOptions{})
	sb, err := dst.ListSnapshots(ctx, "order-0", client.ListSnapshotsOptions{})
	if err != nil || !reflect.DeepEqual(sa, sb) || len(sb.Snapshots) != 2 {
		t.Fatalf("snapshots: source %+v, restored %+v %v", sa, sb, err)
	}
	ra, _ := src.ReadSnapshot(ctx, "order-0", client.ReadSnapshotOptions{})
	rb, err := dst.ReadSnapshot(ctx, "order-0", client.ReadSnapshotOptions{})
	if err != nil || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("snapshot read: source %+v, restored %+v %v", ra, rb, err)
	}
	for _, name := range []string{"billing", "audit"} {
		a, _ := src.SubscriptionInfo(ctx, name)
		b, err := dst.SubscriptionInfo(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		a.Consumers, b.Consumers, a.Waiting, b.Waiting, a.InFlight, b.InFlight = nil, nil, 0, 0, 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("subscription %s: source %+v, restored %+v", name, a, b)
		}
	}
	pa, _ := src.ParkedEvents(ctx, "billing", nil, 10)
	pb, err := dst.ParkedEvents(ctx, "billing", nil, 10)
	if err != nil || !reflect.DeepEqual(pa, pb) || len(pb.Events) != 1 {
		t.Fatalf("parked: source %+v, restored %+v %v", pa, pb, err)
	}
	// The restored store goes on from the backup's position.
	ar, err := dst.Append(ctx, "order-0", client.Any, client.Event{Type: "After"})
	if err != nil || ar.FirstPosition != h.Position || ar.Timestamp < h.LastTimestamp {
		t.Fatalf("append to the restored store: %+v %v (position %d)", ar, err, h.Position)
	}
	// A backup of the restored store has the same records as the first one
	// (up to the source's position, then the new event).
	if l, err := in.Client.Stores().List(ctx, "", 100); err != nil || len(l.Stores) != 2 {
		t.Fatalf("stores list after the restore: %+v %v", l, err)
	}
}

func streamInfo(t *testing.T, s *client.Store, stream string) *client.StreamInfo {
	t.Helper()
	info, err := s.StreamInfo(ctxT(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// writeBackupFile writes a backup file of a header and chunks, with the counts
// they have.
func writeBackupFile(t *testing.T, h *wire.BackupHeader, chunks ...wire.BackupChunk) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := backupfile.NewWriter(&buf)
	if err := w.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	for i := range chunks {
		if err := w.WriteChunk(&chunks[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantNoStore(t *testing.T, in *instance, id string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		_, err := in.Client.Stores().Status(ctxT(t), id)
		if errors.Is(err, client.ErrStoreNotFound) {
			return nil
		}
		return fmt.Errorf("store %s: %v", id, err)
	})
}

// A corrupt, truncated or wrong-version file is refused with a typed error
// before anything is created; a file whose frames check out but whose
// records no store could hold is refused by the store, which is then
// removed: nothing half-made is left.
func TestRestoreRefusesBadFiles(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := in.Store.Append(ctx, "s-1", client.Any, client.Event{Type: "T", Data: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var good bytes.Buffer
	if _, err := in.Store.Backup(ctx, &good, nil); err != nil {
		t.Fatal(err)
	}
	data := good.Bytes()
	corrupt := bytes.Clone(data)
	corrupt[len(corrupt)/2] ^= 0xff
	wrongVersion := bytes.Clone(data)
	binary.BigEndian.PutUint32(wrongVersion[len(backupfile.Magic):], 99)
	cases := []struct {
		name string
		file []byte
		want codes.Code
	}{
		{"corrupt", corrupt, codes.InvalidBackup},
		{"truncated", data[:len(data)-10], codes.InvalidBackup},
		{"empty", nil, codes.InvalidBackup},
		{"not a backup", []byte("hello, this is not a backup file"), codes.InvalidBackup},
		{"wrong version", wrongVersion, codes.UnsupportedBackupVersion},
	}
	for _, c := range cases {
		id := "bad-" + strings.ReplaceAll(c.name, " ", "-")
		_, err := in.Client.Stores().Restore(ctx, bytes.NewReader(c.file), id, client.RestoreOptions{})
		if e := codes.As(err); e == nil || e.Code != c.want {
			t.Fatalf("%s: %v, want %s", c.name, err, c.want.Name())
		}
		if _, err := in.Client.Stores().Status(ctx, id); !errors.Is(err, client.ErrStoreNotFound) {
			t.Fatalf("%s: the store exists after the refused restore: %v", c.name, err)
		}
	}

	// Frames that check out, records that do not: a gap in positions
	// across chunks (each chunk valid alone). The file passes the client's
	// checks, the store refuses it, and the restore removes the store.
	h := &wire.BackupHeader{Format: wire.BackupFormat, Store: "x", Position: 3, LastTimestamp: 3}
	ev := func(pos uint64) wire.BackupEvent {
		return wire.BackupEvent{Position: pos, ID: uuid.NewString(), Stream: "s", Type: "T", Revision: pos, Timestamp: int64(pos), Data: []byte{}, Metadata: []byte{}}
	}
	gap := writeBackupFile(t, h, wire.BackupChunk{Events: []wire.BackupEvent{ev(0)}}, wire.BackupChunk{Events: []wire.BackupEvent{ev(2)}})
	if _, _, err := backupfile.Verify(bytes.NewReader(gap)); err != nil {
		t.Fatalf("the gap file should pass the file checks: %v", err)
	}
	_, err := in.Client.Stores().Restore(ctx, bytes.NewReader(gap), "gap", client.RestoreOptions{})
	if e := codes.As(err); e == nil || e.Code != codes.InvalidBackup {
		t.Fatalf("gap: %v, want invalid_backup", err)
	}
	wantNoStore(t, in, "gap")

	// Into an existing store: refused, the store untouched.
	if _, err := in.Client.Stores().Restore(ctx, bytes.NewReader(data), "default", client.RestoreOptions{}); !errors.Is(err, client.ErrStoreAlreadyExists) {
		t.Fatalf("restore into the default store: %v", err)
	}
	if p := readAllEvents(t, in.Store, ^uint64(0)); len(p) != 5 {
		t.Fatalf("the default store has %d events after a refused restore", len(p))
	}
}

// A store being restored is invisible: stores.list leaves it out, every
// operation but restore is store_restoring (backup too), and a plain
// create of the same id is store_restoring.
func TestRestoringStoreIsInvisible(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	if err := rawCreateForRestore(t, in, "half"); err != nil {
		t.Fatal(err)
	}
	st, err := in.Client.Stores().Status(ctx, "half")
	if err != nil || st.Status != wire.StatusRestoring {
		t.Fatalf("status %+v %v", st, err)
	}
	if l, err := in.Client.Stores().List(ctx, "", 100); err != nil || len(l.Stores) != 1 {
		t.Fatalf("list shows the store being restored: %+v %v", l, err)
	}
	if _, err := in.Client.Stores().Create(ctx, "half", nil); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("create of a store being restored: %v", err)
	}
	// Before the restore's first step too: created for a restore, the
	// store serves nothing else.
	half := in.Client.Store("half")
	if _, err := half.Append(ctx, "s", client.Any, client.Event{Type: "T"}); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("append before the first restore step: %v", err)
	}
	h := wire.BackupHeader{Format: wire.BackupFormat, Store: "x", Position: 1}
	var reply wire.RestoreReply
	eventually(t, 20*time.Second, func() error {
		msg, err := rawRequest(t, in, subjects.Store("half", subjects.OpRestore), mp(t, &wire.RestoreRequest{Seq: 0, Header: &h}))
		if err != nil {
			return err
		}
		if e := wire.ErrorFromMsg(msg); e != nil {
			return e
		}
		return wire.UnmarshalReply(msg.Data, &reply)
	})
	if _, err := half.Append(ctx, "s", client.Any, client.Event{Type: "T"}); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("append while restoring: %v", err)
	}
	if _, err := half.ReadAll(ctx, client.ReadAllOptions{}); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("read while restoring: %v", err)
	}
	var buf bytes.Buffer
	if _, err := half.Backup(ctx, &buf, nil); codes.As(err) == nil || codes.As(err).Code != codes.StoreRestoring {
		t.Fatalf("backup while restoring: %v", err)
	}
}

func rawCreateForRestore(t *testing.T, in *instance, id string) error {
	msg, err := rawRequest(t, in, subjects.Stores(subjects.StoresCreate), mp(t, &wire.CreateStoreRequest{Store: id, Restore: true}))
	if err != nil {
		return err
	}
	if e := wire.ErrorFromMsg(msg); e != nil {
		return e
	}
	return nil
}

// lbctl stores backup and restore, in text and --json, and a refused file.
func TestLbctlBackupRestore(t *testing.T) {
	in := startForLbctl(t)
	for i := range 3 {
		lbctl(t, in, "append", "order-1", "OrderPlaced", fmt.Sprintf(`{"n":%d}`, i))
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "default.lbb")
	wantContains(t, "stores backup", lbctl(t, in, "stores", "backup", "default", file),
		"backed up store default to "+file, "consistent to position 3", "events 3, streams 1")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the backup left %d files in its directory, want 1", len(entries))
	}
	j := lbctlJSON(t, in, "stores", "backup", "default", filepath.Join(dir, "second.lbb"))
	if j["position"] != 3.0 || j["counts"].(map[string]any)["events"] != 3.0 {
		t.Errorf("stores backup --json: %v", j)
	}
	wantContains(t, "stores restore", lbctl(t, in, "stores", "restore", file, "copy"),
		"restored store copy from "+file, "position 3; events 3")
	wantContains(t, "read the copy", lbctl(t, in, "--store", "copy", "read", "order-1"), `#0 order-1@0 OrderPlaced`, `{"n":2}`)

	bad := filepath.Join(dir, "bad.lbb")
	b, _ := os.ReadFile(file)
	os.WriteFile(bad, b[:len(b)-1], 0o600)
	if _, stderr, err := lbctlRun(t, in, "stores", "restore", bad, "copy2"); err == nil || !strings.Contains(stderr, "invalid_backup") {
		t.Errorf("restore of a truncated file: %v %s", err, stderr)
	}
	if _, stderr, err := lbctlRun(t, in, "stores", "status", "copy2"); err == nil || !strings.Contains(stderr, "store_not_found") {
		t.Errorf("status after a refused restore: %v %s", err, stderr)
	}
	if _, stderr, err := lbctlRun(t, in, "stores", "backup", "nope", filepath.Join(dir, "nope.lbb")); err == nil || !strings.Contains(stderr, "store_not_found") {
		t.Errorf("backup of a store that does not exist: %v %s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.lbb")); !os.IsNotExist(err) {
		t.Errorf("a failed backup left a file: %v", err)
	}
}

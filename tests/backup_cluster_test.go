package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// In a 3-storenode cluster: a restore into a store replicated 3 times
// gives every replica the same store (the new leader after a failover reads
// back identical); a backup session dies with its leader
// (backup_session_not_found); a restore abandoned by its client is removed
// by the store's leader.
func TestClusterBackupRestore(t *testing.T) {
	c := startMemCluster(t, 3, func(cfg *node.Config) { cfg.RestoreIdle = 2 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := c.Client.Store("default")
	for i := range 20 {
		if _, err := src.Append(ctx, fmt.Sprintf("order-%d", i%4), client.Any, ev("Placed", fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.SaveSnapshot(ctx, "order-1", client.NewSnapshot{Version: 2, Type: "S", Data: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	sum, err := src.Backup(ctx, &file, nil)
	if err != nil || sum.Header.Position != 20 {
		t.Fatalf("backup: %+v %v", sum, err)
	}
	rf := int64(3)
	if _, err := c.Client.Stores().Restore(ctx, bytes.NewReader(file.Bytes()), "copy", client.RestoreOptions{
		Settings: &client.StoreSettings{ReplicationFactor: &rf}}); err != nil {
		t.Fatal(err)
	}
	dst := c.Client.Store("copy")
	want := readAllEvents(t, src, 20)
	if got := readAllEvents(t, dst, ^uint64(0)); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %d events, want %d identical", len(got), len(want))
	}
	var leader uint64
	eventually(t, 10*time.Second, func() error {
		s, err := storeOf(c.view(ctx), "copy")
		if err != nil || s.Leader == 0 || len(s.Replicas) != 3 {
			return fmt.Errorf("copy %+v %v", s, err)
		}
		leader = s.Leader
		return nil
	})

	// A backup session on the leader of "copy", then the leader stops.
	var first wire.BackupReply
	if err := request(c.Client, subjects.Store("copy", subjects.OpBackup), &wire.BackupRequest{}, &first); err != nil || first.Session == "" {
		t.Fatalf("open a backup: %+v %v", first, err)
	}
	down := c.node(leader)
	c.stop(leader)
	if got := readAllEvents(t, dst, ^uint64(0)); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the failover the new leader reads %d events, not the same %d", len(got), len(want))
	}
	if ra, err := dst.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{}); err != nil || string(ra.Data) != "s" {
		t.Fatalf("snapshot on the new leader: %+v %v", ra, err)
	}
	var next wire.BackupReply
	err = request(c.Client, subjects.Store("copy", subjects.OpBackup), &wire.BackupRequest{Session: first.Session, Seq: 1}, &next)
	if e := codes.As(err); e == nil || e.Code != codes.BackupSessionNotFound {
		t.Fatalf("the session after its leader stopped: %v", err)
	}

	c.restart(down)
	c.waitReady()

	// A restore abandoned after its first step is removed by the leader.
	if err := request(c.Client, subjects.Stores(subjects.StoresCreate), &wire.CreateStoreRequest{Store: "half", Restore: true}, &wire.CreateStoreReply{}); err != nil {
		t.Fatal(err)
	}
	h := sum.Header
	eventually(t, 20*time.Second, func() error {
		return request(c.Client, subjects.Store("half", subjects.OpRestore), &wire.RestoreRequest{Seq: 0, Header: &h}, &wire.RestoreReply{})
	})
	if st, err := c.Client.Stores().Status(ctxT(t), "half"); err != nil || st.Status != wire.StatusRestoring {
		t.Fatalf("half: %+v %v", st, err)
	}
	eventually(t, 30*time.Second, func() error {
		_, err := c.Client.Stores().Status(ctxT(t), "half")
		if errors.Is(err, client.ErrStoreNotFound) {
			return nil
		}
		return fmt.Errorf("the abandoned restore's store: %v", err)
	})
}

// request sends one raw request and decodes its reply or its error.
func request(c *client.Client, subject string, req, out any) error {
	data, err := wire.Marshal(req)
	if err != nil {
		return err
	}
	msg, err := c.Conn().Request(subject, data, 10*time.Second)
	if err != nil {
		return err
	}
	if e := wire.ErrorFromMsg(msg); e != nil {
		return e
	}
	return wire.UnmarshalReply(msg.Data, out)
}

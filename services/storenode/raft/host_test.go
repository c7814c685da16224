package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
)

// counter is the smallest state machine: it adds each entry's first byte.
type counter struct{ sum uint64 }

func (c *counter) Update(e dbsm.Entry) (dbsm.Result, error) {
	c.sum += uint64(e.Cmd[0])
	b := binary.BigEndian.AppendUint64(nil, c.sum)
	return dbsm.Result{Value: c.sum, Data: b}, nil
}
func (c *counter) Lookup(q any) (any, error) {
	if q == "sum" {
		return c.sum, nil
	}
	return "not a number", nil
}
func (c *counter) SaveSnapshot(w io.Writer, _ dbsm.ISnapshotFileCollection, _ <-chan struct{}) error {
	_, err := w.Write(binary.BigEndian.AppendUint64(nil, c.sum))
	return err
}
func (c *counter) RecoverFromSnapshot(r io.Reader, _ []dbsm.SnapshotFile, _ <-chan struct{}) error {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	c.sum = binary.BigEndian.Uint64(b[:])
	return nil
}
func (c *counter) Close() error { return nil }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func openHost(t *testing.T) *Host {
	t.Helper()
	addr := freeAddr(t)
	h, err := Open(Config{NodeID: 1, Dir: t.TempDir(), RaftAddress: addr, RTT: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestHostProposesReadsAndMapsErrors(t *testing.T) {
	h := openHost(t)
	rc := ReplicaConfig{ShardID: 7, ElectionTicks: 10, SnapshotEntries: 100, CompactionOverhead: 10}
	if h.HasReplica(7) {
		t.Fatal("a fresh host has no replica")
	}
	members := map[uint64]string{1: ""}
	members[1] = h.nh.RaftAddress()
	if err := h.StartInMemory(rc, members, false, func() dbsm.IStateMachine { return &counter{} }); err != nil {
		t.Fatal(err)
	}
	// Starting it again is not an error.
	if err := h.StartInMemory(rc, members, false, func() dbsm.IStateMachine { return &counter{} }); err != nil {
		t.Fatalf("second start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !h.Leads(7) {
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id, ok := h.Leader(7); !ok || id != 1 {
		t.Fatalf("leader %d %v", id, ok)
	}
	out, err := h.Propose(ctx, 7, []byte{5})
	if err != nil || binary.BigEndian.Uint64(out) != 5 {
		t.Fatalf("propose: %v %x", err, out)
	}
	sum, err := As[uint64](h.Read(ctx, 7, "sum"))
	if err != nil || sum != 5 {
		t.Fatalf("read: %d %v", sum, err)
	}
	if sum, err := As[uint64](h.StaleRead(7, "sum")); err != nil || sum != 5 {
		t.Fatalf("stale read: %d %v", sum, err)
	}
	// A query answered with another type is internal, not a panic.
	if _, err := As[uint64](h.StaleRead(7, "other")); codes.As(err).Code != codes.Internal {
		t.Fatalf("mistyped answer: %v", err)
	}
	mem, err := h.Membership(ctx, 7)
	if err != nil || !mem.Has(1) || mem.Has(2) {
		t.Fatalf("membership: %+v %v", mem, err)
	}
	// A shard with no replica here is unavailable: nothing was proposed.
	if _, err := h.Propose(ctx, 8, []byte{1}); codes.As(err).Code != codes.NotWritten {
		t.Fatalf("unknown shard: %v", err)
	}
	if err := h.Stop(7); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(7); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := h.RemoveData(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if h.HasReplica(7) {
		t.Fatal("removed data is still there")
	}
}

func TestErrorSaysWhetherAProposalMayHaveApplied(t *testing.T) {
	for _, c := range []struct {
		err  error
		want codes.Code
	}{
		{dragonboat.ErrTimeout, codes.Timeout},
		{context.DeadlineExceeded, codes.Timeout},
		{dragonboat.ErrShardClosed, codes.Timeout},
		{dragonboat.ErrShardNotReady, codes.NotWritten},
		{dragonboat.ErrSystemBusy, codes.NotWritten},
		{dragonboat.ErrPayloadTooBig, codes.RequestTooLarge},
		{errors.New("disk on fire"), codes.Internal},
		{codes.New(codes.StreamNotFound, "x"), codes.StreamNotFound},
	} {
		if got := codes.As(Error(c.err)).Code; got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
	if Error(nil) != nil {
		t.Error("nil error mapped to an error")
	}
}

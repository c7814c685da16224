package formation

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/services/storenode/raft"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
)

// fakeRaft records the meta replica's start.
type fakeRaft struct {
	started map[uint64]string
	starts  int
}

func (f *fakeRaft) HasReplica(uint64) bool { return false }
func (f *fakeRaft) StartInMemory(_ raft.ReplicaConfig, members map[uint64]string, _ bool, _ func() dbsm.IStateMachine) error {
	f.started, f.starts = members, f.starts+1
	return nil
}
func (f *fakeRaft) Membership(context.Context, uint64) (raft.Membership, error) {
	return raft.Membership{}, nil
}
func (f *fakeRaft) AddVoter(context.Context, uint64, uint64, string, uint64) error    { return nil }
func (f *fakeRaft) AddNonVoter(context.Context, uint64, uint64, string, uint64) error { return nil }
func (f *fakeRaft) CheckPeer(context.Context, string) error                           { return nil }

func newTestFormation(t *testing.T, dir string) (*Formation, *fakeRaft) {
	r := &fakeRaft{}
	return New(Config{ClusterName: "c", NodeID: 2, RaftAddress: "b:1", DataDir: dir, InitialSize: 2,
		Logger: slog.Default(), Raft: r, Changed: func() {}}), r
}

func TestHandshakeKeepsOnePromise(t *testing.T) {
	dir := t.TempDir()
	f, r := newTestFormation(t, dir)
	a := &proto.BootLock{Coordinator: 1, Members: map[uint64]string{1: "a:1", 2: "b:1"}}
	b := &proto.BootLock{Coordinator: 1, Members: map[uint64]string{1: "a:1", 2: "b:1", 3: "c:1"}}

	if rep := f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: &proto.BootLock{Coordinator: 1, Members: map[uint64]string{2: "elsewhere:1"}}}); rep.OK {
		t.Fatal("accepted a proposal naming this node at another address")
	}
	if rep := f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: a}); !rep.OK {
		t.Fatalf("prepare a: %+v", rep)
	}
	if rep := f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: b}); rep.OK || !rep.Lock.SameAs(a) {
		t.Fatalf("prepare b after promising a: %+v", rep)
	}
	if f.hello().State != proto.StatePrepared {
		t.Fatalf("state %q", f.hello().State)
	}
	// The promise is on disk before it is given: a restarted node keeps it.
	again, _ := newTestFormation(t, dir)
	if l, err := again.loadBootLock(); err != nil || !l.SameAs(a) || l.Committed {
		t.Fatalf("promise on disk %+v, %v", l, err)
	}
	if rep := f.handleBoot(&proto.BootMsg{Op: "commit", Lock: b}); rep.OK {
		t.Fatal("committed a proposal never promised")
	}
	if rep := f.handleBoot(&proto.BootMsg{Op: "commit", Lock: a}); !rep.OK {
		t.Fatalf("commit a: %+v", rep)
	}
	if !f.Member() || r.starts != 1 || len(r.started) != 2 || r.started[1] != "a:1" {
		t.Fatalf("meta replica: member %v, %d starts with %v", f.Member(), r.starts, r.started)
	}
	if l, err := again.loadBootLock(); err != nil || !l.Committed {
		t.Fatalf("decision on disk %+v, %v", l, err)
	}
	// A member never withdraws, and never starts twice.
	f.handleBoot(&proto.BootMsg{Op: "abort", Lock: a})
	f.handleBoot(&proto.BootMsg{Op: "commit", Lock: a})
	if f.hello().State != proto.StateMember || r.starts != 1 {
		t.Fatalf("state %q, %d starts", f.hello().State, r.starts)
	}
}

func TestHandshakeAbortWithdrawsThePromise(t *testing.T) {
	dir := t.TempDir()
	f, r := newTestFormation(t, dir)
	a := &proto.BootLock{Coordinator: 1, Members: map[uint64]string{1: "a:1", 2: "b:1"}}
	b := &proto.BootLock{Coordinator: 3, Members: map[uint64]string{2: "b:1", 3: "c:1"}}
	f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: a})
	f.handleBoot(&proto.BootMsg{Op: "abort", Lock: b}) // not the promise: ignored
	if rep := f.handleBoot(&proto.BootMsg{Op: "status"}); !rep.Lock.SameAs(a) {
		t.Fatalf("status after a foreign abort: %+v", rep)
	}
	f.handleBoot(&proto.BootMsg{Op: "abort", Lock: a})
	if _, err := os.Stat(filepath.Join(dir, bootFileName)); !os.IsNotExist(err) {
		t.Fatalf("promise file after abort: %v", err)
	}
	if rep := f.handleBoot(&proto.BootMsg{Op: "prepare", Lock: b}); !rep.OK {
		t.Fatalf("prepare after abort: %+v", rep)
	}
	if r.starts != 0 || f.Member() {
		t.Fatal("started without a decision")
	}
}

func TestDamagedPromiseFileIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bootFileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := newTestFormation(t, dir)
	if _, err := f.loadBootLock(); err == nil {
		t.Fatal("a damaged bootstrap.json was accepted")
	}
}

// A promise that could not be written (here: the disk is full) is an
// error: the node must not say yes to a membership it may forget.
func TestPromiseThatCannotBeWrittenIsRefused(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fill the disk with")
	}
	dir := t.TempDir()
	f, _ := newTestFormation(t, dir)
	// The temporary file the promise is written to is /dev/full.
	if err := os.Symlink("/dev/full", filepath.Join(dir, bootFileName+".tmp")); err != nil {
		t.Fatal(err)
	}
	l := &proto.BootLock{Coordinator: 1, Members: map[uint64]string{1: "a:1", 2: "b:1"}}
	if err := f.saveBootLock(l); err == nil {
		t.Fatal("a promise whose write failed was reported saved")
	}
}

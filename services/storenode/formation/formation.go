// Package formation makes a storenode a member of its cluster: it forms the
// cluster with the other fresh storenodes or joins the running one, starts
// the meta replica, checks that no other cluster serves on the same NATS, and
// registers the node. See DESIGN.md.
package formation

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/services/storenode/internal/run"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/registry"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/nats-io/nats.go"
)

// Raft is what formation needs of the Raft host (raft.Host).
type Raft interface {
	HasReplica(shard uint64) bool
	StartInMemory(rc raft.ReplicaConfig, members map[uint64]string, join bool, create func() dbsm.IStateMachine) error
	Membership(ctx context.Context, shard uint64) (raft.Membership, error)
	AddVoter(ctx context.Context, shard, id uint64, addr string, ccid uint64) error
	AddNonVoter(ctx context.Context, shard, id uint64, addr string, ccid uint64) error
	// CheckPeer checks that a joining node's Raft port passes the
	// transport's mutual TLS (nil when the transport is plaintext).
	CheckPeer(ctx context.Context, addr string) error
}

// Foreign records storenodes of other clusters seen on this NATS server
// (the cluster view reports them).
type Foreign interface {
	Note(cluster string, node uint64, raftAddress string)
}

// Config configures formation.
type Config struct {
	ClusterName    string
	NodeID         uint64
	RaftAddress    string
	DataDir        string // holds bootstrap.json, the formation promise
	InitialSize    int
	ElectionTicks  uint64
	RequestTimeout time.Duration
	// StoreCommandVersion and MetaCommandVersion are what this build
	// supports, sent with a join (a joiner that does not cover the cluster
	// version is refused).
	StoreCommandVersion, MetaCommandVersion uint32
	NATS                                    *nats.Conn
	Logger                                  *slog.Logger
	Raft                                    Raft
	Registry                                *registry.Registry
	Foreign                                 Foreign
	// Serve starts serving the registry subjects; it is called once the
	// owner check has passed (no other cluster on this NATS).
	Serve func() error
	// Changed is called when the node's membership moves on (its meta
	// replica started; it was admitted): the registry may now be acted on.
	Changed func()
	// MetaApplied, if set, runs each time the meta replica applies a
	// change (meta.StateMachine.OnApply), on dragonboat's goroutine: it
	// must not block.
	MetaApplied func(store string)
}

// Formation is this node's way into the cluster. It owns the discovery,
// handshake and owner subscriptions and one goroutine (form or join, then
// admission), stopped by Close.
type Formation struct {
	cfg Config
	run *run.Group
	ctx context.Context // cancelled by Close

	bootMu sync.Mutex // serialises the formation handshake

	failed chan struct{} // closed when fatal is set

	mu          sync.Mutex
	lock        *proto.BootLock // this node's formation promise
	metaStarted bool            // the meta replica runs
	admitted    bool            // the owner check passed and the node is registered
	fatal       error           // the node can never serve (see Fatal)

	// Touched by the formation goroutine only.
	round    formRound
	owned    bool // the owner check passed
	enrolled bool // the node is in the registry
}

// New returns the formation of this node; Start starts it.
func New(cfg Config) *Formation {
	g := run.New()
	return &Formation{cfg: cfg, run: g, ctx: g.Context(), failed: make(chan struct{})}
}

// Start answers discovery and starts the meta replica: from disk if this
// node has run it before, else by forming or joining the cluster in the
// background. Admission (owner check, registration) follows in the
// background too.
func (f *Formation) Start() error {
	fromDisk := f.cfg.Raft.HasReplica(meta.ShardID)
	if !fromDisk {
		// The promise is loaded before the handshake subject is served, so
		// that a prepare never finds it missing.
		lock, err := f.loadBootLock()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.lock = lock
		f.mu.Unlock()
	}
	if err := f.serveDiscovery(); err != nil {
		return err
	}
	if err := f.serveRemoved(); err != nil {
		return err
	}
	f.mu.Lock()
	lock := f.lock
	f.mu.Unlock()
	switch {
	case fromDisk:
		// A removed node never starts its meta replica again (it would
		// campaign among nodes that left it).
		if err := f.checkMember(); err != nil {
			return err
		}
		if err := f.startMetaReplica(nil, false); err != nil {
			return err
		}
	case lock != nil && lock.Committed:
		if err := f.startMetaReplica(lock.Members, false); err != nil {
			return err
		}
	}
	f.run.Loop(roundEvery, nil, f.step)
	return nil
}

// step is one round of the formation goroutine: it forms or joins the
// cluster until the meta replica runs, then admits the node. It returns
// false once the node is admitted or can never serve.
func (f *Formation) step() bool {
	if !f.Member() {
		f.formStep()
	} else if f.admitStep() {
		return false
	}
	return f.Fatal() == nil
}

// Close stops the formation goroutine, then leaves its subjects.
func (f *Formation) Close() { f.run.Close() }

// Member reports whether this node runs its meta replica (it formed or
// joined the cluster).
func (f *Formation) Member() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metaStarted
}

// Admitted reports whether the node may act on the registry: it is a
// member, no other cluster answers on this NATS, and it is registered.
func (f *Formation) Admitted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admitted
}

// Fatal returns the error that keeps this node from ever serving, if any.
func (f *Formation) Fatal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

// Failed is closed once the node can never serve (Fatal says why): at
// start-up, or later when the cluster removes it.
func (f *Formation) Failed() <-chan struct{} { return f.failed }

// Refuse makes the node stop for good, saying why (Fatal, Failed): for a
// reason found after start-up, such as a cluster version beyond this build.
func (f *Formation) Refuse(err error) { f.setFatal(err) }

func (f *Formation) setFatal(err error) {
	f.mu.Lock()
	first := f.fatal == nil
	if first {
		f.fatal = err
		close(f.failed)
	}
	f.mu.Unlock()
	if first {
		f.cfg.Logger.Error("refusing to serve", "err", err)
	}
}

// startMetaReplica starts this node's meta replica: with the initial
// members when forming the cluster, with join when added to a running one,
// or from disk when it has run before. It is idempotent.
func (f *Formation) startMetaReplica(members map[uint64]string, join bool) error {
	if f.Member() {
		return nil
	}
	rc := raft.ReplicaConfig{ShardID: meta.ShardID, ElectionTicks: f.cfg.ElectionTicks, SnapshotEntries: 1000, CompactionOverhead: 100}
	create := func() dbsm.IStateMachine {
		m := meta.New()
		if f.cfg.MetaApplied != nil {
			m.OnApply(f.cfg.MetaApplied)
		}
		return m
	}
	if err := f.cfg.Raft.StartInMemory(rc, members, join, create); err != nil {
		return fmt.Errorf("storenode: start meta shard: %w", err)
	}
	f.mu.Lock()
	f.metaStarted = true
	f.mu.Unlock()
	f.cfg.Changed()
	return nil
}

package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
)

// Config configures a Host.
type Config struct {
	// NodeID is this storenode's id; it is the replica id of every replica here.
	NodeID uint64
	// Dir holds the Raft logs (one LogDB shared by every shard).
	Dir string
	// RaftAddress is where other hosts reach this one; ListenAddress, when
	// set, is where it binds.
	RaftAddress, ListenAddress string
	// RTT is the Raft tick.
	RTT time.Duration
	// TLS, when it names files, authenticates every Raft connection both
	// ways (transport_tls.go); without, the transport is plaintext.
	TLS TLSFiles
	// OnLeaderChange is called on dragonboat's goroutines whenever any
	// shard's leader changes; it must not block.
	OnLeaderChange func()
	// Logger receives dragonboat's logs.
	Logger *slog.Logger
}

// deploymentID is dragonboat's deployment id of every Logbook host:
// dragonboat drops Raft messages from another deployment.
const deploymentID = 1

// Host owns this process's dragonboat NodeHost.
type Host struct {
	nh        *dragonboat.NodeHost
	id        uint64
	events    *systemEvents
	transport atomic.Pointer[tcpTransport]
}

// Open starts the NodeHost. Close stops it.
func Open(cfg Config) (*Host, error) {
	installLogger(cfg.Logger)
	tlsCfg, err := loadTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("raft: %w", err)
	}
	h := &Host{id: cfg.NodeID}
	logdb := config.GetSmallMemLogDBConfig()
	logdb.Shards = logDBShards(cfg.Dir, 1)
	nhc := config.NodeHostConfig{
		DeploymentID:   deploymentID,
		WALDir:         cfg.Dir,
		NodeHostDir:    cfg.Dir,
		RTTMillisecond: uint64(cfg.RTT / time.Millisecond),
		RaftAddress:    cfg.RaftAddress,
		ListenAddress:  cfg.ListenAddress,
		// Our transport: dragonboat's wire format, but a connection whose
		// peer restarted is replaced instead of failing (transport.go).
		Expert: config.ExpertConfig{LogDB: logdb, TransportFactory: tcpFactory{tls: tlsCfg, created: &h.transport}},
	}
	if tlsCfg != nil {
		// Ours to use (the factory has them loaded); set for dragonboat's
		// configuration checks, which otherwise call the host insecure.
		nhc.MutualTLS, nhc.CAFile, nhc.CertFile, nhc.KeyFile = true, cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile
	}
	events := &systemEvents{}
	nhc.SystemEventListener = events
	if cfg.OnLeaderChange != nil {
		nhc.RaftEventListener = leaderListener(cfg.OnLeaderChange)
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, fmt.Errorf("raft: start: %w", err)
	}
	h.nh, h.events = nh, events
	return h, nil
}

// Close stops every replica (closing their state machines) and the NodeHost.
func (h *Host) Close() { h.nh.Close() }

// NodeID is this host's node (and replica) id.
func (h *Host) NodeID() uint64 { return h.id }

type leaderListener func()

func (l leaderListener) LeaderUpdated(raftio.LeaderInfo) { l() }

// ReplicaConfig is how a replica runs.
type ReplicaConfig struct {
	ShardID uint64
	// ElectionTicks is the election timeout in ticks; heartbeats go every
	// tenth of it.
	ElectionTicks uint64
	// SnapshotEntries and CompactionOverhead: see dragonboat's config.Config.
	SnapshotEntries, CompactionOverhead uint64
	// Quiesce lets the shard go quiet when idle: after ten election
	// timeouts without traffic its replicas stop heartbeating and stop
	// counting down to elections, until a proposal, a read or any Raft
	// message other than a heartbeat arrives. A quiesced follower does not
	// notice its leader's death by itself: see Wake, and the store replicas'
	// DESIGN.md.
	Quiesce bool
}

func (h *Host) config(rc ReplicaConfig) config.Config {
	return config.Config{
		ReplicaID: h.id, ShardID: rc.ShardID, CheckQuorum: true, PreVote: true,
		ElectionRTT: rc.ElectionTicks, HeartbeatRTT: max(1, rc.ElectionTicks/10),
		SnapshotEntries: rc.SnapshotEntries, CompactionOverhead: rc.CompactionOverhead,
		Quiesce: rc.Quiesce,
	}
}

// HasReplica reports whether this host has run a replica of shard before
// (its Raft log is on disk): such a replica restarts from its log, with
// neither initial members nor join.
func (h *Host) HasReplica(shard uint64) bool { return h.nh.HasNodeInfo(shard, h.id) }

// StartOnDisk starts a replica with an on-disk state machine. members are
// the initial members (node id → Raft address) of a new shard; join starts
// it as a member added to a running shard; both are ignored by a replica
// that HasReplica.
func (h *Host) StartOnDisk(rc ReplicaConfig, members map[uint64]string, join bool, create func() dbsm.IOnDiskStateMachine) error {
	targets, join := h.targets(rc.ShardID, members, join)
	err := h.nh.StartOnDiskReplica(targets, join, func(uint64, uint64) dbsm.IOnDiskStateMachine { return create() }, h.config(rc))
	if err != nil {
		return fmt.Errorf("raft: start shard %d: %w", rc.ShardID, err)
	}
	return nil
}

// StartInMemory starts a replica with an in-memory state machine (recovered
// from Raft snapshots and the log). Starting one that runs is not an error.
func (h *Host) StartInMemory(rc ReplicaConfig, members map[uint64]string, join bool, create func() dbsm.IStateMachine) error {
	targets, join := h.targets(rc.ShardID, members, join)
	err := h.nh.StartReplica(targets, join, func(uint64, uint64) dbsm.IStateMachine { return create() }, h.config(rc))
	if err != nil && !errors.Is(err, dragonboat.ErrShardAlreadyExist) {
		return fmt.Errorf("raft: start shard %d: %w", rc.ShardID, err)
	}
	return nil
}

func (h *Host) targets(shard uint64, members map[uint64]string, join bool) (map[uint64]dragonboat.Target, bool) {
	targets := map[uint64]dragonboat.Target{}
	if h.HasReplica(shard) {
		return targets, false // restart: the membership is in the Raft log
	}
	if !join {
		for id, addr := range members {
			targets[id] = addr
		}
	}
	return targets, join
}

// Stop stops this host's replica of shard; stopping one that does not run
// is not an error.
func (h *Host) Stop(shard uint64) error {
	if err := h.nh.StopShard(shard); err != nil && !errors.Is(err, dragonboat.ErrShardNotFound) {
		return fmt.Errorf("raft: stop shard %d: %w", shard, err)
	}
	return nil
}

// RemoveData deletes this host's Raft log of a stopped shard. A shard stops
// asynchronously, so it waits up to ctx for the stop to complete.
func (h *Host) RemoveData(ctx context.Context, shard uint64) error {
	for {
		err := h.nh.RemoveData(shard, h.id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, dragonboat.ErrShardNotStopped) {
			return fmt.Errorf("raft: remove data of shard %d: %w", shard, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raft: remove data of shard %d: %w", shard, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Leader returns the shard's leader as this replica knows it; ok is false
// while there is none (or no replica runs here).
func (h *Host) Leader(shard uint64) (id uint64, ok bool) {
	id, _, ok, err := h.nh.GetLeaderID(shard)
	return id, err == nil && ok
}

// LeaderTerm returns the shard's leader and term as this replica knows
// them; ok is false while there is no leader (or no replica runs here).
func (h *Host) LeaderTerm(shard uint64) (id, term uint64, ok bool) {
	id, term, ok, err := h.nh.GetLeaderID(shard)
	return id, term, err == nil && ok
}

// Leads reports whether this host's replica leads the shard.
func (h *Host) Leads(shard uint64) bool {
	id, ok := h.Leader(shard)
	return ok && id == h.id
}

// Follows reports whether the shard has a leader other than this host, as
// this replica knows it: a request for the leader that reaches this node is
// someone else's to serve.
func (h *Host) Follows(shard uint64) bool {
	id, ok := h.Leader(shard)
	return ok && id != h.id
}

// Wake brings this host's replica of a quiesced shard out of quiesce, so
// that it counts down to an election again: a follower whose leader died
// while the shard was quiet then campaigns at its next tick (its election
// clock kept running while quiesced). It asks for a read index, which
// nothing waits for; it never blocks. Waking a replica that is not
// quiesced only costs that read index.
func (h *Host) Wake(shard uint64, timeout time.Duration) error {
	if _, err := h.nh.ReadIndex(shard, timeout); err != nil && !errors.Is(err, dragonboat.ErrSystemBusy) {
		return fmt.Errorf("raft: wake shard %d: %w", shard, err)
	}
	return nil
}

// TransferLeader asks the shard's leader (this host) to hand over to node to.
func (h *Host) TransferLeader(shard, to uint64) error {
	if err := h.nh.RequestLeaderTransfer(shard, to); err != nil {
		return fmt.Errorf("raft: transfer leadership of shard %d to %d: %w", shard, to, err)
	}
	return nil
}

// Propose proposes data to shard and returns the state machine's result
// once it is applied here. Its error is a Logbook error (see Error).
func (h *Host) Propose(ctx context.Context, shard uint64, data []byte) ([]byte, error) {
	res, err := h.nh.SyncPropose(ctx, h.nh.GetNoOPSession(shard), data)
	if err != nil {
		return nil, Error(err)
	}
	return res.Data, nil
}

// Read is a linearizable query: dragonboat confirms leadership with a read
// index before the state machine answers, so it sees every entry committed
// before the call.
func (h *Host) Read(ctx context.Context, shard uint64, q any) (any, error) {
	v, err := h.nh.SyncRead(ctx, shard, q)
	if err != nil {
		return nil, Error(err)
	}
	return v, nil
}

// StaleRead queries this replica's state as applied so far, without asking
// the leader: it may trail the leader.
func (h *Host) StaleRead(shard uint64, q any) (any, error) {
	v, err := h.nh.StaleRead(shard, q)
	if err != nil {
		return nil, Error(err)
	}
	return v, nil
}

// As asserts the type of a query result: a state machine that answers with
// another type is a bug, reported as internal rather than a panic.
func As[T any](v any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, codes.New(codes.Internal, "raft: query answered %T, want %T", v, zero)
	}
	return t, nil
}

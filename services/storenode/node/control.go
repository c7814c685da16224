package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/version"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/cluster"
	"github.com/logbookdb/logbook/services/storenode/datadir"
	"github.com/logbookdb/logbook/services/storenode/formation"
	"github.com/logbookdb/logbook/services/storenode/lifecycle"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// The control plane: formation (forming or joining the cluster, the owner
// check), cluster (heartbeats, the cluster view, balancing, node removal)
// and lifecycle (the registry subjects and the reconciler). Each owns its
// lock and goroutines; the node builds them, starts them and closes them.

// Version is reported in heartbeats and the cluster view.
var Version = version.Version

// versions are the versions this build supports, reported in heartbeats.
var versions = supported()

// supportOverride, set at build time only (-ldflags "-X
// github.com/logbookdb/logbook/services/storenode/node.supportOverride=1/1"),
// makes the build report and enforce other store/meta command versions
// than its own: how the tests build an "older" storenode (1/1) or a
// "newer" one (4/4) to run mixed-version clusters from one source tree. A
// build that claims more than it applies is for tests only. Empty in every
// release.
var supportOverride string

func supported() cluster.Versions {
	v := cluster.Versions{StoreCommand: sm.MaxCommandVersion, MetaCommand: meta.MaxCommandVersion, DataFormat: datadir.Format}
	var s, m uint32
	if _, err := fmt.Sscanf(supportOverride, "%d/%d", &s, &m); err == nil && s >= 1 && m >= 1 {
		v.StoreCommand, v.MetaCommand = s, m
	}
	return v
}

type control struct {
	form    *formation.Formation
	cluster *cluster.Cluster
	life    *lifecycle.Lifecycle
}

// startControl builds the control plane and starts it: formation first (it
// starts the meta replica, or forms or joins the cluster in the background),
// then heartbeats, then the reconciler.
func (n *Node) startControl() error {
	cfg := &n.cfg
	reps := nodeReplicas{n}
	foreign := &cluster.Foreign{}
	n.ctl.form = formation.New(formation.Config{
		ClusterName: cfg.ClusterName, NodeID: cfg.NodeID, RaftAddress: cfg.RaftAddress, DataDir: cfg.DataDir,
		InitialSize: cfg.InitialSize, ElectionTicks: cfg.ElectionTicks, RequestTimeout: cfg.RequestTimeout,
		StoreCommandVersion: versions.StoreCommand, MetaCommandVersion: versions.MetaCommand,
		NATS: cfg.NATS, Logger: cfg.Logger, Raft: n.host, Registry: n.reg, Foreign: foreign,
		Serve:       func() error { return n.ctl.life.Serve() },
		Changed:     n.pokeReconcile,
		MetaApplied: n.onMetaApplied,
	})
	n.ctl.cluster = cluster.New(cluster.Config{
		ClusterName: cfg.ClusterName, NodeID: cfg.NodeID, RaftAddress: cfg.RaftAddress, DataDir: cfg.DataDir,
		Version: Version, Versions: versions, Settings: n.settings(), HeartbeatInterval: cfg.HeartbeatInterval,
		DisableBalancer: cfg.DisableBalancer, HoldVersion: cfg.HoldClusterVersion, Refuse: n.ctl.form.Refuse,
		Limits: cfg.Limits, NATS: cfg.NATS, Logger: cfg.Logger,
		Raft: n.host, Registry: n.reg, Replicas: reps, Membership: n.ctl.form, Foreign: foreign,
		Changed: n.pokeReconcile,
	})
	n.ctl.life = lifecycle.New(lifecycle.Config{
		NodeID: cfg.NodeID, DefaultStore: cfg.DefaultStore, StaticStores: cfg.StaticStores,
		MaxStores: cfg.MaxStores, MaxReplicas: cfg.MaxReplicas, ReplicaLimits: n.ctl.cluster,
		InitialSize: cfg.InitialSize, Limits: cfg.Limits, RequestTimeout: cfg.RequestTimeout,
		NATS: cfg.NATS, Logger: cfg.Logger, Server: n.srv, Raft: n.host, Registry: n.reg, Replicas: reps,
		Admission: n.ctl.form, Moves: n.ctl.cluster, Liveness: n.ctl.cluster, RestoreIdle: cfg.RestoreIdle,
		Usage:     reps.Usage,
		WakeStore: n.wakeStore,
		// The registry operations of the other parts.
		Writes: map[string]lifecycle.Op{
			proto.MetaJoin:             n.ctl.form.AddNode,
			proto.MetaMember:           n.ctl.form.CheckMember,
			subjects.ClusterRemoveNode: n.ctl.cluster.RemoveNode,
			subjects.ClusterVersion:    n.ctl.cluster.ServeVersion,
		},
		Reads: map[string]lifecycle.Op{
			proto.ClusterReadOp(subjects.ClusterView):   n.ctl.cluster.ServeView,
			proto.ClusterReadOp(subjects.ClusterHealth): n.ctl.cluster.ServeHealth,
		},
	})
	if err := n.ctl.form.Start(); err != nil {
		return err
	}
	n.ctl.cluster.Start()
	n.ctl.life.Start()
	return nil
}

// closeControl stops the control plane: formation (no more forming,
// joining or admission), the lifecycle (reconciler, registry subjects), then
// heartbeats. Each stops its goroutines, then leaves its subjects.
func (n *Node) closeControl() {
	if n.ctl.form == nil {
		return // never built
	}
	n.ctl.form.Close()
	n.ctl.life.Close()
	n.ctl.cluster.Close()
}

// settings are this node's settings that must agree across the cluster.
func (n *Node) settings() proto.NodeSettings {
	return proto.NodeSettings{
		DefaultStore: n.cfg.DefaultStore, StaticStores: n.cfg.StaticStores,
		RequestTimeoutMs: n.cfg.RequestTimeout.Milliseconds(), Limits: n.cfg.Limits,
		MaxStores: n.cfg.MaxStores, InitialSize: n.cfg.InitialSize, MaxReplicas: n.cfg.MaxReplicas,
	}
}

// pokeReconcile makes the reconciler run a pass soon (after a registry
// change, or when the node's membership moved on).
func (n *Node) pokeReconcile() {
	if n.ctl.life != nil {
		n.ctl.life.Poke()
	}
}

// onLeaderChange runs on dragonboat's goroutines at every leader change: it
// only pokes the leader followers and the reconciler (a new store's leader
// reports it running at once), never blocks.
func (n *Node) onLeaderChange() {
	n.pokeLeaders()
	if n.ctl.life != nil { // nil until startControl has built it
		n.ctl.life.LeaderChanged()
		n.ctl.life.Poke()
	}
}

// wakeStore wakes a store no node serves: it asks every node to start its
// dormant replica of it, and wakes this node's replica if it follows a
// leader: a quiesced follower whose leader died does not notice by itself
// (replica/DESIGN.md, "Idle stores"). It never blocks.
func (n *Node) wakeStore(id string) {
	n.announceWake(id) // its replicas may be dormant, here and elsewhere
	r := n.replicas.Get(id)
	if r == nil || !r.Follows() {
		return
	}
	if err := n.host.Wake(r.Spec().ShardID, 2*time.Second); err != nil {
		n.cfg.Logger.Debug("cannot wake a store replica", "store", id, "err", err)
	}
}

// onMetaApplied runs on dragonboat's goroutine each time the meta replica
// applies a change: the reconciler acts on it at once (a store placed here
// starts without waiting for the next pass) and creates waiting for their
// store to run look again. It never blocks.
func (n *Node) onMetaApplied(store string) {
	if n.ctl.life != nil { // nil until startControl has built it
		n.ctl.life.MetaApplied(store)
	}
}

// ClusterView returns the cluster view as this node sees it.
func (n *Node) ClusterView(ctx context.Context) (*wire.ClusterView, error) {
	if err := n.closed(); err != nil {
		return nil, err
	}
	return n.ctl.cluster.View(ctx)
}

// ClusterHealth returns the cluster's health as this node sees it.
func (n *Node) ClusterHealth(ctx context.Context) (*wire.ClusterHealth, error) {
	if err := n.closed(); err != nil {
		return nil, err
	}
	return n.ctl.cluster.Health(ctx)
}

// closed says why the node no longer answers, once it is closed.
func (n *Node) closed() error {
	select {
	case <-n.done:
		if err := n.Fatal(); err != nil {
			return err
		}
		return codes.New(codes.Unavailable, "storenode closed")
	default:
		return nil
	}
}

// Fatal returns the error that keeps this node from serving, if any.
func (n *Node) Fatal() error { return n.ctl.form.Fatal() }

// Member reports whether this node runs its meta replica (it formed or
// joined the cluster).
func (n *Node) Member() bool { return n.ctl.form.Member() }

// nodeReplicas is the node's replica set as the control plane sees it
// (lifecycle.Replicas, cluster.Replicas).
type nodeReplicas struct{ n *Node }

func (r nodeReplicas) Start(spec replica.Spec, addrs map[uint64]string) (bool, error) {
	return r.n.startReplica(spec, addrs)
}

func (r nodeReplicas) Stop(id string, shard uint64, removeData bool) error {
	return r.n.stopReplica(id, shard, removeData)
}

// Running reports whether the store has a replica here, running or dormant.
func (r nodeReplicas) Running(id string) bool {
	return r.n.replicas.Get(id) != nil || r.n.replicas.IsDormant(id)
}

// IsDormant reports whether the store's replica here is dormant.
func (r nodeReplicas) IsDormant(id string) bool { return r.n.replicas.IsDormant(id) }

// Wake starts the store's dormant replica here.
func (r nodeReplicas) Wake(id string) error {
	_, err := r.n.replicas.Wake(id)
	return err
}

// Dormant returns the stores whose replica here is dormant, in id order.
func (r nodeReplicas) Dormant() []string {
	ds := r.n.replicas.DormantList()
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Spec.ID)
	}
	slices.Sort(out)
	return out
}

// Applied returns the last Raft index the store's replica here applied
// (a dormant one's when it stopped).
func (r nodeReplicas) Applied(id string) uint64 {
	if rep := r.n.replicas.Get(id); rep != nil {
		return rep.AppliedIndex()
	}
	if d, ok := r.n.replicas.DormantOf(id); ok {
		return d.Peek.Applied
	}
	return 0
}

// RestoreInfo says where a restore into the store stands on its replica here.
func (r nodeReplicas) RestoreInfo(id string) (sm.RestoreInfo, bool) {
	rep := r.n.replicas.Get(id)
	if rep == nil {
		return sm.RestoreInfo{}, false
	}
	v, err := rep.StaleRead(sm.RestoreStatus{})
	if err != nil {
		return sm.RestoreInfo{}, false
	}
	info, ok := v.(sm.RestoreInfo)
	return info, ok
}

// Quota returns the quota the store's state machine here enforces.
func (r nodeReplicas) Quota(id string) (sm.Quota, bool) {
	u, ok := r.LocalUsage(id)
	return u.Quota, ok
}

// SetQuota proposes the store's quota through its replica here.
func (r nodeReplicas) SetQuota(ctx context.Context, id string, q sm.Quota) error {
	rep := r.n.replicas.Get(id)
	if rep == nil {
		return codes.New(codes.Unavailable, "no replica of store %q here", id)
	}
	aux, err := sm.EncodeAux(&q)
	if err != nil {
		return err
	}
	res, err := rep.Submit(ctx, sm.Command{Op: sm.OpSetQuota, Aux: aux}, len(aux))
	if err != nil {
		return err
	}
	return res.Err()
}

// Usage returns a store's usage and quota: those of its replica here, or
// of the replica that applied the most by the other nodes' last
// heartbeats, whichever applied more.
func (r nodeReplicas) Usage(id string) (sm.Usage, bool) {
	u, ok := r.LocalUsage(id)
	applied := r.Applied(id)
	if cl := r.n.ctl.cluster; cl != nil {
		if pu, pa, peer := cl.PeerUsage(id); peer && (!ok || pa > applied) {
			u, ok = pu, true
		}
	}
	return u, ok
}

// LocalUsage returns the store's usage and quota as its replica here
// applied them (false when none runs here).
func (r nodeReplicas) LocalUsage(id string) (sm.Usage, bool) {
	if rep := r.n.replicas.Get(id); rep != nil {
		return rep.Usage(), true
	}
	if d, ok := r.n.replicas.DormantOf(id); ok {
		return d.Peek.Usage, true
	}
	return sm.Usage{}, false
}

// List returns the specs of the replicas running here, by store id.
func (r nodeReplicas) List() []replica.Spec {
	reps := r.n.replicas.List()
	out := make([]replica.Spec, 0, len(reps))
	for _, rep := range reps {
		out = append(out, rep.Spec())
	}
	slices.SortFunc(out, func(a, b replica.Spec) int { return strings.Compare(a.ID, b.ID) })
	return out
}

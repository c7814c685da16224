package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
)

// The cluster version gate (docs/operations.md, Upgrading). Each node
// reports in its heartbeat the highest store and meta command versions its
// build applies. The meta leader raises the active cluster version (in the
// registry) to what every registered node supports, once all of them are up
// and report it, unless this node holds it back (Config.HoldVersion); it
// never lowers it. A node whose build supports less than the active version
// refuses to serve: it would not apply the entries the others write.

// versionTimeout bounds the proposal that raises the version.
const versionTimeout = 5 * time.Second

// checkVersion refuses to serve if the active cluster version is beyond
// this build, and, on the meta leader, raises it when every node allows.
func (c *Cluster) checkVersion() {
	active, err := c.cfg.Registry.ClusterVersion()
	if err != nil {
		return
	}
	own := meta.ClusterVersion{Store: c.cfg.Versions.StoreCommand, Meta: c.cfg.Versions.MetaCommand}
	if !own.Covers(active) {
		if c.cfg.Refuse != nil {
			c.cfg.Refuse(fmt.Errorf("storenode: the cluster runs at version store %d, meta %d, and this build supports only store %d, meta %d: run a build that supports it (the version never moves down; see Upgrading in docs/operations.md)",
				active.Store, active.Meta, own.Store, own.Meta))
		}
		return
	}
	if c.cfg.HoldVersion || !c.cfg.Raft.Leads(meta.ShardID) {
		return
	}
	if info, err := c.cfg.Registry.VersionInfo(); err != nil || info.Held {
		return
	}
	target, ok := c.supportedByAll()
	if !ok {
		return
	}
	target = meta.ClusterVersion{Store: max(target.Store, active.Store), Meta: max(target.Meta, active.Meta)}
	if target == active {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, versionTimeout)
	defer cancel()
	if _, err := c.cfg.Registry.Apply(ctx, meta.Command{Op: meta.OpSetVersion, StoreVersion: target.Store, MetaVersion: target.Meta}); err != nil {
		c.cfg.Logger.Warn("cannot raise the cluster version", "store", target.Store, "meta", target.Meta, "err", err)
		return
	}
	c.cfg.Logger.Info("cluster version raised: every storenode supports it", "store", target.Store, "meta", target.Meta,
		"was_store", active.Store, "was_meta", active.Meta)
}

// supportedByAll returns the highest version every registered node
// supports, from their heartbeats; ok is false while a registered node is
// not heard (down, or not started yet): its build is unknown.
func (c *Cluster) supportedByAll() (meta.ClusterVersion, bool) {
	nodes, err := c.cfg.Registry.Nodes()
	if err != nil || len(nodes) == 0 {
		return meta.ClusterVersion{}, false
	}
	peers := c.peerTable()
	now := time.Now()
	v := meta.ClusterVersion{Store: ^uint32(0), Meta: ^uint32(0)}
	for _, n := range nodes {
		p, ok := peers[n.ID]
		if !ok || !c.peerUp(p, now) {
			return meta.ClusterVersion{}, false
		}
		// A build that reports no versions predates them: the base version.
		v.Store = min(v.Store, max(p.hb.StoreCommandVersion, meta.BaseVersion.Store))
		v.Meta = min(v.Meta, max(p.hb.MetaCommandVersion, meta.BaseVersion.Meta))
	}
	return v, true
}

// ServeVersion answers cluster.version on the registry's leader: it holds
// the version back or lets it rise when asked (a registry change, refused
// with version_not_active before the cluster runs version 2: upgrades to
// the first version with the gate are held with -hold-cluster-version), then
// reports the version, what every node supports, and whether it is held.
func (c *Cluster) ServeVersion(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeClusterVersion(data, c.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if req.Hold != nil {
		if _, err := c.cfg.Registry.Apply(ctx, meta.Command{Op: meta.OpHoldVersion, Hold: *req.Hold}); err != nil {
			return nil, err
		}
		c.cfg.Logger.Info("cluster version hold changed by cluster.version", "hold", *req.Hold)
	}
	info, err := c.cfg.Registry.VersionInfo()
	if err != nil {
		return nil, raft.Error(err)
	}
	reply := &wire.ClusterVersionReply{Active: wire.ClusterVersion{StoreCommand: info.Version.Store, MetaCommand: info.Version.Meta},
		Held: info.Held || c.cfg.HoldVersion}
	if v, ok := c.supportedByAll(); ok {
		reply.Supported = &wire.ClusterVersion{StoreCommand: v.Store, MetaCommand: v.Meta}
	}
	return reply, nil
}

// VersionSettled reports whether the cluster version is where it will stay
// for now: held, or already what every registered node supports, or
// unknown (a registered node is not heard). False means a raise is due: a
// fresh cluster starts at the base version and rises at its registry
// leader's next heartbeat; RaiseVersion does it at once.
func (c *Cluster) VersionSettled() bool {
	if c.cfg.HoldVersion {
		return true
	}
	info, err := c.cfg.Registry.VersionInfo()
	if err != nil || info.Held {
		return err == nil
	}
	target, ok := c.supportedByAll()
	return !ok || info.Version.Covers(target)
}

// RaiseVersion raises the cluster version now if this node leads the
// registry and every node allows it (what each heartbeat does).
func (c *Cluster) RaiseVersion() { c.checkVersion() }

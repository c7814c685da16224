package meta

import "github.com/logbookdb/logbook/pkg/codes"

// ClusterVersion is the active cluster version: the highest command
// version of the store state machines (Store) and of this registry (Meta)
// that may be proposed. It moves up only when every registered storenode
// supports the new one (the meta leader raises it; see cluster/version.go)
// and never moves down. A registry that never recorded one is at the base
// version, {1, 1}: what every storenode released before the gate applies.
type ClusterVersion struct {
	Store uint32 `msgpack:"store"`
	Meta  uint32 `msgpack:"meta"`
}

// BaseVersion is the version of a cluster that never recorded one.
var BaseVersion = ClusterVersion{Store: 1, Meta: 1}

// Active returns v with the base version filled in for what is unset.
func (v ClusterVersion) Active() ClusterVersion {
	return ClusterVersion{Store: max(v.Store, BaseVersion.Store), Meta: max(v.Meta, BaseVersion.Meta)}
}

// Covers reports whether v is at least o in both parts.
func (v ClusterVersion) Covers(o ClusterVersion) bool { return v.Store >= o.Store && v.Meta >= o.Meta }

// GetVersion returns the active ClusterVersion (a Lookup query).
type GetVersion struct{}

// Version is the meta command version c needs: what an older registry
// could not apply the same way.
func (c *Command) Version() uint32 {
	switch {
	case c.Op == OpSetVersion, c.Op == OpHoldVersion:
		return 2
	case c.Op == OpSetQuota, c.Op == OpCreate && c.Settings.HasQuota():
		return 3
	case c.Op == OpCreate && c.Restore:
		return 2
	}
	return 1
}

// setVersion raises the active version to the command's, part by part;
// lowering a part is refused (the version never moves down).
func (st *State) setVersion(c *Command) Result {
	cur := st.Version.Active()
	want := ClusterVersion{Store: c.StoreVersion, Meta: c.MetaVersion}
	if !want.Covers(cur) {
		return fail(codes.InvalidArgument, "the cluster version never moves down: it is store %d, meta %d; asked store %d, meta %d",
			cur.Store, cur.Meta, want.Store, want.Meta)
	}
	if want == cur {
		return Result{}
	}
	st.Version = want
	return Result{Changed: true}
}

// VersionInfo is the cluster version and whether cluster.version holds it
// back (a Lookup query: GetVersionInfo).
type VersionInfo struct {
	Version ClusterVersion
	Held    bool
}

// GetVersionInfo returns the VersionInfo (a Lookup query).
type GetVersionInfo struct{}

// holdVersion records whether the version is held back.
func (st *State) holdVersion(c *Command) Result {
	if st.VersionHeld == c.Hold {
		return Result{}
	}
	st.VersionHeld = c.Hold
	return Result{Changed: true}
}

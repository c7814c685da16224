package client

import (
	"context"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Cluster types, named for the client's users.
type (
	ClusterView   = wire.ClusterView
	ClusterHealth = wire.ClusterHealth
)

// View returns the cluster view: storenodes and their health, every store's
// placement, leader and health, and configuration drift between nodes. Any
// storenode answers from its own registry replica and the heartbeats it
// received, so two calls may come from different nodes.
func (c *Client) View(ctx context.Context) (*ClusterView, error) {
	var out ClusterView
	return &out, (&Store{c: c}).send(ctx, subjects.Cluster(subjects.ClusterView), subjects.ClusterView, map[string]any{}, &out)
}

// Health returns the cluster's health: ok, warning or critical, with the
// problems found (nodes down, stores without a leader or under-replicated,
// configuration drift).
func (c *Client) Health(ctx context.Context) (*ClusterHealth, error) {
	var out ClusterHealth
	return &out, (&Store{c: c}).send(ctx, subjects.Cluster(subjects.ClusterHealth), subjects.ClusterHealth, map[string]any{}, &out)
}

// RemoveNode takes a storenode out of the cluster for good: each store it
// holds gets a replica on another node (when one has none of that store)
// before the node's replica leaves the store's Raft group. It returns at
// once; the cluster view shows the moves and drops the node when they are
// done. Stop the node's process afterwards and never restart it with its
// data.
func (c *Client) RemoveNode(ctx context.Context, node uint64) (*wire.RemoveNodeReply, error) {
	var out wire.RemoveNodeReply
	return &out, (&Store{c: c}).send(ctx, subjects.Cluster(subjects.ClusterRemoveNode), subjects.ClusterRemoveNode, &wire.RemoveNodeRequest{NodeID: int64(node)}, &out)
}

// ClusterVersion reports the cluster version (hold nil), or holds it back
// (hold true: it stays where it is even once every storenode supports
// more) or lets it rise again (false). See docs/operations.md, Upgrading.
func (c *Client) ClusterVersion(ctx context.Context, hold *bool) (*wire.ClusterVersionReply, error) {
	var out wire.ClusterVersionReply
	return &out, (&Store{c: c}).send(ctx, subjects.Cluster(subjects.ClusterVersion), subjects.ClusterVersion, &wire.ClusterVersionRequest{Hold: hold}, &out)
}

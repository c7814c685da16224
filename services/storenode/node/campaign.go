package node

import (
	"strconv"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/nats-io/nats.go"
)

// First leaders (replica/campaign.go): a store's replicas starting together
// ask the designated one to campaign at once. The node's part is the
// message: to itself directly, to another node on its campaign subject.

// campaign asks node's replica of the store to stand for election now. It
// never blocks (a NATS publish).
func (n *Node) campaign(node uint64, spec replica.Spec) {
	if node == n.cfg.NodeID {
		n.host.Campaign(spec.ShardID)
		return
	}
	body := strconv.AppendUint(nil, spec.ShardID, 10)
	if err := n.cfg.NATS.Publish(proto.Campaign(n.cfg.ClusterName, node), body); err != nil {
		n.cfg.Logger.Debug("cannot ask for a campaign", "store", spec.ID, "node", node, "err", err)
	}
}

// subscribeCampaigns starts listening for campaign requests addressed to
// this node; the subscription ends with the node (leaveCampaigns).
func (n *Node) subscribeCampaigns() error {
	sub, err := n.cfg.NATS.Subscribe(proto.Campaign(n.cfg.ClusterName, n.cfg.NodeID), n.onCampaign)
	if err != nil {
		return err
	}
	n.campaigns = sub
	return nil
}

// onCampaign makes this node's replica of the shard named by the message
// campaign, if it runs here and knows no leader (raft.Host.Campaign).
func (n *Node) onCampaign(m *nats.Msg) {
	shard, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		return // not ours to answer: a campaign request carries a shard id
	}
	select {
	case <-n.done:
	default:
		n.host.Campaign(shard)
	}
}

// leaveCampaigns stops listening for campaign requests.
func (n *Node) leaveCampaigns() {
	if n.campaigns != nil {
		n.campaigns.Unsubscribe()
	}
}

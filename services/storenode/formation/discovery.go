package formation

import (
	"context"
	"fmt"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// hello describes this node for discovery.
func (f *Formation) hello() proto.Hello {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := proto.StateFresh
	switch {
	case f.metaStarted:
		state = proto.StateMember
	case f.lock != nil:
		state = proto.StatePrepared
	}
	return proto.Hello{Cluster: f.cfg.ClusterName, NodeID: f.cfg.NodeID, RaftAddress: f.cfg.RaftAddress,
		InitialSize: f.cfg.InitialSize, State: state}
}

// serveDiscovery answers _LB.discover and this node's formation subject.
func (f *Formation) serveDiscovery() error {
	discover, err := f.cfg.NATS.Subscribe(proto.Discover, func(m *nats.Msg) {
		var asker proto.Hello
		if wire.UnmarshalReply(m.Data, &asker) == nil && asker.NodeID != 0 && asker.Cluster != f.cfg.ClusterName {
			f.cfg.Foreign.Note(asker.Cluster, asker.NodeID, asker.RaftAddress)
		}
		if b, err := wire.Marshal(f.hello()); err == nil && m.Reply != "" {
			m.Respond(b)
		}
	})
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	f.run.Keep(discover)
	boot, err := f.cfg.NATS.Subscribe(proto.Boot(f.cfg.ClusterName, f.cfg.NodeID), f.onBoot)
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	f.run.Keep(boot)
	return nil
}

// discover asks every storenode who it is and collects the answers.
func (f *Formation) discover(ctx context.Context) ([]proto.Hello, error) {
	inbox := nats.NewInbox()
	sub, err := f.cfg.NATS.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("storenode: discover: %w", err)
	}
	defer sub.Unsubscribe()
	b, err := wire.Marshal(f.hello())
	if err != nil {
		return nil, err
	}
	if err := f.cfg.NATS.PublishRequest(proto.Discover, inbox, b); err != nil {
		return nil, fmt.Errorf("storenode: discover: %w", err)
	}
	var out []proto.Hello
	deadline := time.Now().Add(discoverWait)
	for {
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			return out, nil
		}
		m, err := sub.NextMsg(wait)
		if err != nil {
			return out, nil
		}
		var h proto.Hello
		if wire.UnmarshalReply(m.Data, &h) != nil || h.NodeID == 0 {
			continue
		}
		if h.NodeID == f.cfg.NodeID && h.RaftAddress == f.cfg.RaftAddress && h.Cluster == f.cfg.ClusterName {
			continue // our own answer
		}
		out = append(out, h)
	}
}

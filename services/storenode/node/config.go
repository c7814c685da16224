package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// StoreSpec names a store this node hosts and the Raft shard that holds it.
type StoreSpec struct {
	ID      string
	ShardID uint64
}

// Config configures a storenode.
type Config struct {
	// NodeID is this node's Raft replica id (≥ 1), stable across restarts.
	NodeID uint64
	// RaftAddress is host:port where dragonboat listens for other replicas.
	RaftAddress string
	// DataDir holds the Raft log (raft/) and one directory per store (stores/<id>/).
	DataDir string
	// NATS is the connection the node serves requests on; the caller owns it.
	NATS *nats.Conn
	// Stores lists the stores hosted here.
	Stores []StoreSpec
	// Limits are enforced on every request.
	Limits wire.Limits
	// RequestTimeout bounds each request, Raft round included. Default 5s.
	RequestTimeout time.Duration
	// RTT is the Raft tick; elections take ElectionTicks of them. Defaults 20ms, 25.
	RTT           time.Duration
	ElectionTicks uint64
	// MaxBatch bounds how many commands one Raft entry carries. Default 512.
	MaxBatch int
	// Proposers is how many Raft proposals per store may be in flight. Default 4.
	Proposers int
	// Logger receives the node's logs; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.NodeID == 0 {
		return errors.New("storenode: NodeID must be ≥ 1")
	}
	if c.RaftAddress == "" || c.DataDir == "" || c.NATS == nil {
		return errors.New("storenode: RaftAddress, DataDir and NATS are required")
	}
	for _, s := range c.Stores {
		if err := wire.ValidateStoreID(s.ID); err != nil {
			return fmt.Errorf("storenode: %w", err)
		}
		if s.ShardID < 2 {
			return fmt.Errorf("storenode: store %s: shard id must be ≥ 2 (1 is reserved)", s.ID)
		}
	}
	c.Limits = c.Limits.WithDefaults()
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.RTT == 0 {
		c.RTT = 20 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 25
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 512
	}
	if c.Proposers == 0 {
		c.Proposers = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

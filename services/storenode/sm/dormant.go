package sm

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// A dormant replica is one its node stopped because its store was idle
// (replica/DESIGN.md, "Dormant stores"). The node marks it in the engine,
// outside the replica's own range, so that a restart leaves it stopped
// instead of starting every store it holds. The marker is this node's own
// bookkeeping, never replicated: losing it only starts the replica at the
// next start.

// dormantTag starts the dormant markers: dormantTag, shard id, replica id.
const dormantTag = 0x02

func dormantKey(shardID, replicaID uint64) []byte {
	k := make([]byte, 0, 17)
	k = append(k, dormantTag)
	k = binary.BigEndian.AppendUint64(k, shardID)
	return binary.BigEndian.AppendUint64(k, replicaID)
}

// SetDormant marks a replica dormant, or clears the mark. A mark is
// fsynced (once per hibernation): unsynced writes wait in the engine's
// write-ahead log buffer, and a process killed before the next sync would
// lose it and start the replica. Clearing is not: a lost clear leaves the
// replica dormant at the next start, from which any request wakes it.
func (e *Engine) SetDormant(shardID, replicaID uint64, dormant bool) error {
	k := dormantKey(shardID, replicaID)
	var err error
	if dormant {
		err = e.db.Set(k, nil, pebble.Sync)
	} else {
		err = e.db.Delete(k, pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("sm: mark replica %d/%d dormant=%v: %w", shardID, replicaID, dormant, err)
	}
	return nil
}

// Dormant reports whether a replica is marked dormant.
func (e *Engine) Dormant(shardID, replicaID uint64) (bool, error) {
	_, closer, err := e.db.Get(dormantKey(shardID, replicaID))
	if err == pebble.ErrNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sm: read dormant mark of %d/%d: %w", shardID, replicaID, err)
	}
	closer.Close()
	return true, nil
}

// Peek is what a replica's range says of it without opening its state
// machine: for a dormant replica's place in heartbeats and metrics.
type Peek struct {
	Applied uint64 // the last Raft index applied
	Usage   Usage  // as of that index (Bytes as last counted)
}

// PeekReplica reads a replica's applied index, usage and quota from its
// range in the engine.
func (e *Engine) PeekReplica(shardID, replicaID uint64) (Peek, error) {
	snap := &kvSnap{s: e.db.NewSnapshot(), sp: replicaSpan(shardID, replicaID)}
	defer snap.Close()
	applied, h, err := loadState(snap)
	if err != nil {
		return Peek{}, err
	}
	u, err := readUsage(snap)
	if err != nil {
		return Peek{}, err
	}
	q, _, err := readQuotaSet(snap)
	if err != nil {
		return Peek{}, err
	}
	return Peek{Applied: applied, Usage: Usage{Events: h.NextPosition, Bytes: u.Bytes, Quota: q}}, nil
}

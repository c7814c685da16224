// Package replica runs this storenode's replicas of store shards: starting
// and stopping them, following their Raft leadership, proposing through
// them (group commit) and running the tasks a leader runs. See DESIGN.md.
package replica

import (
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

// Spec is a store replica to run here, as the registry describes it.
type Spec struct {
	ID       string
	ShardID  uint64
	Limits   wire.Limits
	Timeout  time.Duration
	Replicas []uint64
	// Join starts the replica as a new member of the store's running Raft
	// group (a replica moving in) rather than as an initial member.
	Join bool
	// Restore: the store was created to receive a backup (registry status
	// restoring when the replica started). Until its state machine has
	// completed a restore, the store serves nothing but the restore
	// (Replica.Restoring), even before the restore's first step.
	Restore bool
	// HasQuota: the registry gave the store a quota when the replica
	// started. Until its state machine has had a quota set (QuotaSet), the
	// store serves no append: a new store's first appends must not pass
	// before its quota is in force.
	HasQuota bool
}

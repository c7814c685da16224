package meta

import (
	"errors"
	"fmt"

	"github.com/logbookdb/logbook/pkg/codes"

	"github.com/vmihailenco/msgpack/v5"
)

// EntryVersion prefixes every meta Raft entry: version(1 byte) msgpack(Command).
const EntryVersion byte = 1

// MaxCommandVersion is the highest command version this build's meta
// (registry) state machine applies: EntryVersion and the operations below
// without Command.Restore are version 1; version 2 adds Create with
// Restore (status restoring), SetStatus restoring → running, and
// OpSetVersion; version 3 adds the quota settings (Create with a quota,
// and OpSetQuota). Raise it with a new operation, or a new meaning of an old
// one, that an older build cannot apply, and make Command.Version say which
// commands need it. Storenodes report it (heartbeat, cluster view); the
// registry refuses to propose a command above the active cluster version
// (version.go).
const MaxCommandVersion uint32 = 3

// Operations of a Command.
const (
	OpRegisterNode   uint8 = 1
	OpCreate         uint8 = 2
	OpSetStatus      uint8 = 3
	OpRemove         uint8 = 4
	OpReplicaRemoved uint8 = 5
	OpInit           uint8 = 6  // sets the cluster UID if it has none
	OpRemoveNode     uint8 = 7  // a node leaves: its replicas move to other nodes
	OpMoveDone       uint8 = 8  // a store's replica moved off a leaving node
	OpNodeRemoved    uint8 = 9  // a leaving node holds nothing and left the meta shard
	OpSetVersion     uint8 = 10 // raises the active cluster version (command version 2)
	OpHoldVersion    uint8 = 11 // holds the cluster version back, or lets it rise (command version 2)
	OpSetQuota       uint8 = 12 // changes a store's quota, Settings.MaxEvents and MaxBytes (command version 3)

	lastOp = OpSetQuota // the highest op this build knows
)

// ErrNewerEntry marks a registry entry a newer build wrote, which this one
// cannot apply: the replica halts instead of diverging.
var ErrNewerEntry = errors.New("written by a newer Logbook build: upgrade this storenode to one that supports the cluster version")

// Command is one registry change. Everything the apply needs is in it
// (including the proposer's clock and limits), so replicas agree.
type Command struct {
	Op          uint8    `msgpack:"op"`
	Time        int64    `msgpack:"time"`
	Store       string   `msgpack:"store,omitempty"`
	Settings    Settings `msgpack:"settings,omitempty"`
	Origin      string   `msgpack:"origin,omitempty"`
	MaxStores   int64    `msgpack:"max_stores,omitempty"`
	Protected   string   `msgpack:"protected,omitempty"` // the default store: not removable
	Status      string   `msgpack:"status,omitempty"`
	NodeID      uint64   `msgpack:"node,omitempty"`
	RaftAddress string   `msgpack:"raft_address,omitempty"`
	UID         string   `msgpack:"uid,omitempty"`
	// Restore: Create makes the store restoring, to receive a backup
	// (command version 2).
	Restore bool `msgpack:"restore,omitempty"`
	// StoreVersion, MetaVersion: OpSetVersion's new active cluster version.
	StoreVersion uint32 `msgpack:"store_version,omitempty"`
	MetaVersion  uint32 `msgpack:"meta_version,omitempty"`
	// Hold: OpHoldVersion's new state.
	Hold bool `msgpack:"hold,omitempty"`
}

// Result is the outcome of a Command. Code 0 is success.
type Result struct {
	Code     int    `msgpack:"code"`
	Message  string `msgpack:"message,omitempty"`
	Store    *Store `msgpack:"store,omitempty"`    // the store after the command
	Existed  bool   `msgpack:"existed,omitempty"`  // create: it was already there, same settings
	Changed  bool   `msgpack:"changed,omitempty"`  // the store's status changed (or it was created or purged)
	Previous string `msgpack:"previous,omitempty"` // the status before
	Purged   bool   `msgpack:"purged,omitempty"`   // the store left the registry
	UID      string `msgpack:"uid,omitempty"`      // init: the cluster UID in force
	// Degraded are the stores a node removal left with fewer replicas than
	// their replication factor, each with its status before (announced as
	// status changes).
	Degraded []StatusChange `msgpack:"degraded,omitempty"`
}

// StatusChange is a store's new state and the status it had before.
type StatusChange struct {
	Store    *Store `msgpack:"store"`
	Previous string `msgpack:"previous"`
}

// Err is the one conversion of a Result into an error: nil on success, else
// the *codes.Error the command failed with (fail makes the other way).
func (r *Result) Err() error {
	if r.Code == 0 {
		return nil
	}
	return &codes.Error{Code: codes.Code(r.Code), Message: r.Message}
}

// Encode encodes a command as a Raft entry.
func Encode(c *Command) ([]byte, error) {
	b, err := msgpack.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("meta: encode: %w", err)
	}
	return append([]byte{EntryVersion}, b...), nil
}

func decodeCommand(entry []byte) (*Command, error) {
	if len(entry) == 0 || entry[0] != EntryVersion {
		return nil, fmt.Errorf("meta: entry version not supported")
	}
	var c Command
	if err := msgpack.Unmarshal(entry[1:], &c); err != nil {
		return nil, fmt.Errorf("meta: decode: %w", err)
	}
	return &c, nil
}

// DecodeResult decodes the result of a proposal.
func DecodeResult(data []byte) (*Result, error) {
	var r Result
	if err := msgpack.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("meta: decode result: %w", err)
	}
	return &r, nil
}

package sm

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// The Raft log entry format. It is Logbook's own, versioned, and separate from
// the client wire format: the client protocol can change without rewriting
// logs, and old entries stay readable after an upgrade.
//
//	entry := version(1 byte) msgpack(Batch)
//
// A Batch carries many commands: the proposer packs concurrent appends into
// one entry so that one Raft round and one fsync serve them all. Each command
// gets its own result; one failing check never affects its neighbours.
const EntryVersion byte = 1

// MaxCommandVersion is the highest command version this build's store state
// machine applies: the entry format (EntryVersion) and the operations of the
// op table (ops.go) up to the persistent subscriptions are version 1;
// version 2 adds OpRestore (and the store_restoring answer of every other
// command while a restore is in progress); version 3 adds OpSetQuota (and
// an append refused quota_exceeded once a store has a quota: only a quota
// set by OpSetQuota makes an append fail, so an older replica, which cannot
// apply OpSetQuota, never meets an append it would apply differently). Raise it with a new
// operation, or a new meaning of an old one, that an older build cannot
// apply, and record the op's version in opVersions (ops.go). Storenodes
// report it (heartbeat, cluster view); the cluster version rises to the
// lowest a node reports, and a replica refuses to propose a command above
// the cluster version (replica.Replica.Submit).
const MaxCommandVersion uint32 = 3

// Expected states of a Command.
const (
	ExpectAny uint8 = iota
	ExpectNoStream
	ExpectStreamExists
	ExpectExact
)

// Batch is the payload of one Raft entry.
type Batch struct {
	_msgpack struct{} `msgpack:",as_array"`
	// Time is the proposer's wall clock (Unix ns). The state machine makes
	// commit timestamps non-decreasing from it, deterministically.
	Time int64
	Cmds []Command
}

// Command is one operation (an op of the table in ops.go).
type Command struct {
	_msgpack struct{} `msgpack:",as_array"`
	Op       uint8
	Stream   string
	Expect   uint8
	Revision uint64
	Events   []EventCmd
	// Aux is the msgpack payload of the operations beyond append and
	// delete (snapshots, subscriptions); nil for append and delete.
	// New fields only ever go at the end of the array.
	Aux []byte
}

// EventCmd is one event to append. IDs are always set: the proposer
// generates the missing ones before proposing, so replicas agree.
type EventCmd struct {
	_msgpack            struct{} `msgpack:",as_array"`
	ID                  [16]byte
	Type                string
	Data                []byte
	DataContentType     string
	Metadata            []byte
	MetadataContentType string
}

// EncodeBatch encodes a batch as a Raft entry, into one buffer sized for it
// up front (growing a buffer by doubling, then copying it behind the version
// byte, allocated about three times the entry).
func EncodeBatch(b *Batch) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, batchSizeHint(b)))
	buf.WriteByte(EntryVersion)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return buf.Bytes(), nil
}

// batchSizeHint is a close upper estimate of a batch's encoded size: the
// variable-length fields, plus room for the fixed ones and the headers.
func batchSizeHint(b *Batch) int {
	n := 16
	for i := range b.Cmds {
		c := &b.Cmds[i]
		n += 32 + len(c.Stream) + len(c.Aux)
		for j := range c.Events {
			e := &c.Events[j]
			n += 40 + len(e.Type) + len(e.Data) + len(e.DataContentType) + len(e.Metadata) + len(e.MetadataContentType)
		}
	}
	return n
}

// DecodeBatch decodes a Raft entry.
func DecodeBatch(entry []byte) (*Batch, error) {
	if len(entry) == 0 {
		return nil, fmt.Errorf("empty entry")
	}
	if entry[0] != EntryVersion {
		return nil, fmt.Errorf("entry version %d is not supported (this build reads %d)", entry[0], EntryVersion)
	}
	var b Batch
	if err := msgpack.Unmarshal(entry[1:], &b); err != nil {
		return nil, fmt.Errorf("decode batch: %w", err)
	}
	return &b, nil
}

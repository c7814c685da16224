package sm

import "encoding/binary"

// Key layout of a store's Pebble database. Stream names never contain control
// characters (wire.ValidateStream), so 0x00 is a safe separator.
//
//	"\x00applied"                 applied Raft index (8 bytes BE), same batch as the data
//	"\x00head"                    store head: next position, last timestamp
//	"\x00format"                  on-disk format version
//	"\x00usage"                   stored bytes, counted to a position (quota.go), same batch as the data
//	"\x00quota"                   the store's quota, set by OpSetQuota (quota.go); absent: none
//	'e' pos(8 BE)                 event record at a store position
//	's' name                      stream meta
//	'r' name 0x00 revision(8 BE)  position of a stream's revision
//	'i' uuid(16)                  position of an event id (idempotency)
//	'a' name 0x00 version(8 BE) k aggregate snapshot: k 'd' body, 'h' header (snapshots.go)
//	'p' ...                       persistent subscriptions: definitions, checkpoints, parked events (psub.go)
var (
	keyApplied = []byte("\x00applied")
	keyHead    = []byte("\x00head")
	keyFormat  = []byte("\x00format")
	keyUsage   = []byte("\x00usage")
	keyQuota   = []byte("\x00quota")
)

const (
	prefixEvent  = 'e'
	prefixStream = 's'
	prefixRev    = 'r'
	prefixID     = 'i'

	formatVersion = 1
)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func eventKey(pos uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixEvent}, pos)
}

func posFromEventKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:]) }

func streamKey(name string) []byte {
	k := make([]byte, 0, 1+len(name))
	return append(append(k, prefixStream), name...)
}

func revPrefix(name string) []byte {
	k := make([]byte, 0, 2+len(name)+8)
	k = append(append(k, prefixRev), name...)
	return append(k, 0)
}

func revKey(name string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(revPrefix(name), rev)
}

func idKey(id [16]byte) []byte {
	return append([]byte{prefixID}, id[:]...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

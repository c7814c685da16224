package sm

// metaCache holds the metadata of the streams written recently, exactly as
// the database holds them after the last committed Update: every append
// and delete reads its stream's metadata, and a Pebble point lookup in an
// indexed batch (memtables, then every level's index and data blocks, then
// the msgpack decode) was the largest single cost of the apply on every
// replica (issue 11: 15% of a follower's CPU at 64 clients).
//
// It is owned by Update, like the head. Update reads through it and records
// what its batch writes (and what it read from Pebble) in a pending set,
// merged in only after the batch committed: a failed Update leaves it
// untouched. Every write of a stream key goes through applier.putStream.
// Open and RecoverFromSnapshot start it empty. Stream keys are never deleted
// (a deleted stream keeps its metadata, marked Deleted), so an entry can
// only be stale if a write bypassed putStream.
type metaCache struct {
	m map[string]streamMeta
}

// metaCacheMax bounds the streams a store's cache holds (about 150 bytes
// each with the map's overhead, so about 300 KiB per store at most: a node
// may host many stores); past it, arbitrary entries make room.
var metaCacheMax = 2048 // a variable for the tests

func (c *metaCache) get(name string) (streamMeta, bool) {
	m, ok := c.m[name]
	return m, ok
}

// commit merges what an Update's committed batch wrote or read.
func (c *metaCache) commit(pending map[string]streamMeta) {
	if c.m == nil {
		c.m = make(map[string]streamMeta, min(len(pending), metaCacheMax))
	}
	for name, m := range pending {
		if _, ok := c.m[name]; !ok && len(c.m) >= metaCacheMax {
			for k := range c.m { // map order: an arbitrary victim
				delete(c.m, k)
				break
			}
		}
		c.m[name] = m
	}
}

func (c *metaCache) reset() { c.m = nil }

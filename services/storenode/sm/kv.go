package sm

import (
	"io"

	"github.com/cockroachdb/pebble"
)

// The state machine reads and writes store keys (keys.go); these wrappers
// put them under the replica's prefix in the shared engine and take it off
// again, and bound every iterator to the replica's range, so that no code
// of a store can reach another store's keys.

// kvBatch is a batch of one replica's writes.
type kvBatch struct {
	b   *pebble.Batch
	sp  span
	buf []byte
}

func (b *kvBatch) Set(k, v []byte, _ *pebble.WriteOptions) error {
	b.buf = b.sp.key(b.buf, k)
	return b.b.Set(b.buf, v, nil)
}

func (b *kvBatch) Delete(k []byte, _ *pebble.WriteOptions) error {
	b.buf = b.sp.key(b.buf, k)
	return b.b.Delete(b.buf, nil)
}

// Get reads through the batch (an indexed batch sees its own writes).
func (b *kvBatch) Get(k []byte) ([]byte, io.Closer, error) {
	b.buf = b.sp.key(b.buf, k)
	return b.b.Get(b.buf)
}

func (b *kvBatch) NewIter(o *pebble.IterOptions) *kvIter {
	return newKVIter(b.sp, o, b.b.NewIter)
}

// kvSnap is a consistent view of one replica's keys.
type kvSnap struct {
	s  *pebble.Snapshot
	sp span
}

func (s *kvSnap) Get(k []byte) ([]byte, io.Closer, error) {
	return s.s.Get(s.sp.key(nil, k))
}

func (s *kvSnap) NewIter(o *pebble.IterOptions) *kvIter {
	return newKVIter(s.sp, o, s.s.NewIter)
}

func (s *kvSnap) Close() error { return s.s.Close() }

// kvIter iterates over one replica's keys; Key returns store keys.
type kvIter struct {
	it   *pebble.Iterator
	n    int // prefix length
	sp   span
	seek []byte
}

// newKVIter opens an iterator with o's bounds (store keys; nil: the end of
// the replica's range) moved into the replica's range.
func newKVIter(sp span, o *pebble.IterOptions, open func(*pebble.IterOptions) *pebble.Iterator) *kvIter {
	var opts pebble.IterOptions
	if o != nil {
		opts = *o
	}
	opts.LowerBound = sp.lo
	if o != nil && o.LowerBound != nil {
		opts.LowerBound = sp.key(nil, o.LowerBound)
	}
	opts.UpperBound = sp.hi
	if o != nil && o.UpperBound != nil {
		opts.UpperBound = sp.key(nil, o.UpperBound)
	}
	return &kvIter{it: open(&opts), n: len(sp.lo), sp: sp}
}

func (i *kvIter) First() bool   { return i.it.First() }
func (i *kvIter) Last() bool    { return i.it.Last() }
func (i *kvIter) Next() bool    { return i.it.Next() }
func (i *kvIter) Prev() bool    { return i.it.Prev() }
func (i *kvIter) Valid() bool   { return i.it.Valid() }
func (i *kvIter) Key() []byte   { return i.it.Key()[i.n:] }
func (i *kvIter) Value() []byte { return i.it.Value() }
func (i *kvIter) Error() error  { return i.it.Error() }
func (i *kvIter) Close() error  { return i.it.Close() }

// SeekGE moves to the first store key at or after k.
func (i *kvIter) SeekGE(k []byte) bool {
	i.seek = i.sp.key(i.seek, k)
	return i.it.SeekGE(i.seek)
}

// seekExact positions the iterator at store key k and reports whether k
// exists. It is a point lookup that, unlike Get, consults the tables' bloom
// filters (SeekPrefixGE; see engineComparer): a key that is absent, as
// almost every new event id is, costs no table block reads. The value is
// the iterator's until it moves.
func (i *kvIter) seekExact(k []byte) bool {
	i.seek = i.sp.key(i.seek, k)
	return i.it.SeekPrefixGE(i.seek)
}

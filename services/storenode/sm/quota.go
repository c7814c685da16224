package sm

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
)

// Per-store quotas (see DESIGN.md, Quotas). The state machine keeps the
// store's usage and its quota in its own database, written in the same
// batch as the data, and checks every append against them inside the
// replicated apply: every replica reaches the same outcome, in log order.
//
// Usage counts what is stored. Deleting a stream is a tombstone: its events
// stay stored (they remain in $all, and a backup carries them), so they
// keep counting; usage never goes down.
//
//   - events: the events stored, deleted streams' included (the store's next
//     position).
//   - bytes: the sum of EventBytes over the events stored.

// Quota is a store's limits; 0 is no limit.
type Quota struct {
	_msgpack  struct{} `msgpack:",as_array"`
	MaxEvents uint64
	MaxBytes  uint64
}

// usage is the store's stored bytes, as of the event position Position (the
// head's next position when it was written). Open and RecoverFromSnapshot
// add the events from Position to the head that a build without quotas
// stored without counting them.
type usage struct {
	_msgpack struct{} `msgpack:",as_array"`
	Position uint64
	Bytes    uint64
}

// eventFixedBytes is what EventBytes counts beyond an event's variable
// fields: its id (16), revision (8) and timestamp (8).
const eventFixedBytes = 32

// EventBytes is an event's size for the store's byte quota: its stream
// name, type, data, metadata and both content types, plus 32 for its id,
// revision and timestamp. It depends on the event's fields only, never on
// how a build encodes them, so every replica counts the same.
func EventBytes(stream, typ string, data, metadata []byte, dataCT, metadataCT string) uint64 {
	return uint64(eventFixedBytes + len(stream) + len(typ) + len(data) + len(metadata) + len(dataCT) + len(metadataCT))
}

func recordBytes(r *eventRecord) uint64 {
	return EventBytes(r.Stream, r.Type, r.Data, r.Metadata, r.DataContentType, r.MetadataContentType)
}

// Usage is what a store holds and may hold (a QuotaStatus answer).
type Usage struct {
	Events uint64 // events stored, deleted streams' included
	Bytes  uint64 // the sum of EventBytes over them
	Quota  Quota  // the quota the state machine enforces (0: none)
}

// QuotaStatus asks for the store's Usage, from this replica's applied
// state. Answer: Usage.
type QuotaStatus struct{}

func (v view) usage() (Usage, error) {
	h, err := v.head()
	if err != nil {
		return Usage{}, err
	}
	u, err := readUsage(v.snap)
	if err != nil {
		return Usage{}, err
	}
	q, err := readQuota(v.snap)
	if err != nil {
		return Usage{}, err
	}
	return Usage{Events: h.NextPosition, Bytes: u.Bytes, Quota: q}, nil
}

func readUsage(r reader) (usage, error) {
	var u usage
	b, ok, err := get(r, keyUsage)
	if err != nil || !ok {
		return u, err
	}
	return u, decode(b, &u)
}

func readQuota(r reader) (Quota, error) {
	q, _, err := readQuotaSet(r)
	return q, err
}

// readQuotaSet also reports whether OpSetQuota ever set one (to none,
// possibly).
func readQuotaSet(r reader) (Quota, bool, error) {
	var q Quota
	b, ok, err := get(r, keyQuota)
	if err != nil || !ok {
		return q, false, err
	}
	return q, true, decode(b, &q)
}

// loadUsage reads the replica's usage and brings it up to the head (the
// caller holds s.mu for writing): events stored by a build that did not
// count them (a data directory from before quotas, or a snapshot sent by
// such a replica) are counted once, deterministically, from the records
// themselves, and the result written back. It sets the usage, the quota and
// whether one was ever set.
func (s *StateMachine) loadUsage(snap *kvSnap, h head) error {
	q, set, err := readQuotaSet(snap)
	if err != nil {
		return err
	}
	u, err := readUsage(snap)
	if err != nil {
		return err
	}
	if u.Position > h.NextPosition {
		// Usage is written with the head, in the same batch: it cannot be ahead.
		return fmt.Errorf("sm: corrupt usage: counted to position %d, the head is at %d", u.Position, h.NextPosition)
	}
	if u.Position < h.NextPosition {
		it := snap.NewIter(&pebble.IterOptions{LowerBound: eventKey(u.Position), UpperBound: eventKey(h.NextPosition)})
		for ok := it.First(); ok; ok = it.Next() {
			var r eventRecord
			if err := decode(it.Value(), &r); err != nil {
				it.Close()
				return err
			}
			u.Bytes += recordBytes(&r)
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("sm: count usage: %w", err)
		}
		u.Position = h.NextPosition
		b := &kvBatch{b: s.eng.db.NewBatch(), sp: s.sp}
		err := b.Set(keyUsage, encode(&u), nil)
		if err == nil {
			err = b.b.Commit(pebble.Sync)
		}
		b.b.Close()
		if err != nil {
			return fmt.Errorf("sm: write usage: %w", err)
		}
	}
	s.usage, s.quota = u, q
	s.quotaSet.Store(set)
	s.publishUsage()
	return nil
}

// checkQuota refuses an append of n events of the given bytes that would
// take the store past its quota; nothing is written then.
func (a *applier) checkQuota(n, bytes uint64) error {
	q := a.quota
	if q.MaxEvents > 0 && a.head.NextPosition+n > q.MaxEvents {
		return codes.New(codes.QuotaExceeded, "the store holds %d events, its quota is %d: %d more do not fit", a.head.NextPosition, q.MaxEvents, n)
	}
	if q.MaxBytes > 0 && a.usage.Bytes+bytes > q.MaxBytes {
		return codes.New(codes.QuotaExceeded, "the store holds %d bytes, its quota is %d: %d more do not fit", a.usage.Bytes, q.MaxBytes, bytes)
	}
	return nil
}

// appendBytes is the size of an append's events for the byte quota.
func appendBytes(c *Command) uint64 {
	var n uint64
	for i := range c.Events {
		e := &c.Events[i]
		n += EventBytes(c.Stream, e.Type, e.Data, e.Metadata, e.DataContentType, e.MetadataContentType)
	}
	return n
}

// SetQuota is OpSetQuota's Aux: the store's new quota (command version 3).
// The store's leader proposes it when the registry's settings differ from
// what the state machine holds.
type SetQuota = Quota

// SetQuotaResult is OpSetQuota's result.
type SetQuotaResult struct {
	_msgpack struct{} `msgpack:",as_array"`
	Changed  bool     // the quota differs from the one before
}

func (a *applier) setQuota(c *Command, _ int64) (SetQuotaResult, error) {
	var q Quota
	if err := decode(c.Aux, &q); err != nil {
		return SetQuotaResult{}, codes.New(codes.InvalidArgument, "set quota: %v", err)
	}
	if q == a.quota && a.quotaSet {
		return SetQuotaResult{}, nil
	}
	a.quota = q
	a.quotaSet = true
	a.b.Set(keyQuota, encode(&q), nil)
	return SetQuotaResult{Changed: true}, nil
}

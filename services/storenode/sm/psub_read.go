package sm

import (
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Reads of persistent subscriptions (the queries PSubGet, PSubList,
// PSubScan and PSubParked) and their answers.

func (v view) psubGet(name string) (*PSub, error) {
	b, ok, err := get(v.snap, psubKey(name))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, psubNotFound(name)
	}
	var p PSub
	if err := decode(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (v view) psubList() ([]*PSub, error) {
	lo := []byte{prefixPSub, 1}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	defer it.Close()
	out := []*PSub{}
	for ok := it.First(); ok; ok = it.Next() {
		var p PSub
		if err := decode(it.Value(), &p); err != nil {
			return nil, err
		}
		out = append(out, &p)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list subscriptions: %w", err)
	}
	return out, nil
}

// PSubScanResult is the answer to PSubScan: the matching events and the
// position to continue from (every position below Next was examined).
type PSubScanResult struct {
	Events []Event
	Next   uint64
	Head   uint64 // the store's next position
}

func (v view) psubScan(q *PSubScan) (*PSubScanResult, error) {
	h, err := v.head()
	if err != nil {
		return nil, err
	}
	res := &PSubScanResult{Next: q.From, Head: h.NextPosition}
	if q.From >= h.NextPosition {
		return res, nil
	}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: eventKey(q.From), UpperBound: eventKey(h.NextPosition)})
	defer it.Close()
	filter := q.Sub.Filter()
	size, scanned := 0, 0
	for ok := it.First(); ok && scanned < MaxScan && len(res.Events) < q.Max; ok = it.Next() {
		pos := posFromEventKey(it.Key())
		rec, err := recordOf(it.Value())
		if err != nil {
			return nil, err
		}
		if filter.matchRecord(&rec) {
			if size += rec.size(); size > q.MaxBytes && len(res.Events) > 0 {
				break
			}
			res.Events = append(res.Events, rec.event(pos))
		}
		scanned++
		res.Next = pos + 1
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: scan: %w", err)
	}
	return res, nil
}

// PSubParkedEntry is one parked event.
type PSubParkedEntry struct {
	Park  PSubPark
	Event Event
}

// PSubParkedResult answers PSubParked.
type PSubParkedResult struct {
	Entries []PSubParkedEntry
	More    bool
}

func (v view) psubParked(q *PSubParked) (*PSubParkedResult, error) {
	if _, ok, err := get(v.snap, psubKey(q.Name)); err != nil {
		return nil, err
	} else if !ok {
		return nil, psubNotFound(q.Name)
	}
	lo := psubParkPrefix(q.Name)
	opts := &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)}
	if q.HasAfter {
		if q.After == ^uint64(0) {
			return &PSubParkedResult{Entries: []PSubParkedEntry{}}, nil
		}
		opts.LowerBound = psubParkKey(q.Name, q.After+1)
	}
	it := v.snap.NewIter(opts)
	defer it.Close()
	res := &PSubParkedResult{Entries: []PSubParkedEntry{}}
	size := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		pos := decodeU64(k[len(k)-8:])
		if q.Skip[pos] {
			continue
		}
		if len(res.Entries) >= q.Limit {
			res.More = true
			break
		}
		var e PSubParkedEntry
		if err := decode(it.Value(), &e.Park); err != nil {
			return nil, err
		}
		b, ok, err := get(v.snap, eventKey(pos))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("sm: corrupt store: parked event at missing position %d", pos)
		}
		if e.Event, err = toEvent(b, pos); err != nil {
			return nil, err
		}
		if size += eventSize(&e.Event); size > v.maxReply && len(res.Entries) > 0 {
			res.More = true
			break
		}
		res.Entries = append(res.Entries, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list parked: %w", err)
	}
	return res, nil
}

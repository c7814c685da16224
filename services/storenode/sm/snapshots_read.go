package sm

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
)

// Reads of aggregate snapshots (the queries SnapshotRead and SnapshotList)
// and their answers. Their fields are those of the client protocol's
// Snapshot and SnapshotInfo, in the same order.

// Snapshot is a stored snapshot: the answer to SnapshotRead.
type Snapshot struct {
	Stream              string
	Version             uint64
	Type                string
	Data                []byte // never nil
	DataContentType     string
	Metadata            []byte // never nil
	MetadataContentType string
	Created             int64
}

// SnapshotInfo describes one snapshot without its content.
type SnapshotInfo struct {
	Version      uint64
	Type         string
	DataSize     uint64
	MetadataSize uint64
	Created      int64
}

// SnapshotPage is one page of a stream's snapshots: the answer to
// SnapshotList. Next is nil on the last page.
type SnapshotPage struct {
	Stream    string
	Snapshots []SnapshotInfo
	Next      *uint64
}

func (v view) readSnapshot(q *SnapshotRead) (*Snapshot, error) {
	if _, err := v.liveStream(q.Stream); err != nil {
		return nil, err
	}
	p := snapshotPrefix(q.Stream)
	upper := prefixEnd(p)
	if q.MaxVersion != nil {
		// The header of MaxVersion is the last key below this bound.
		upper = snapshotKey(q.Stream, *q.MaxVersion, snapshotHeader+1)
	}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper})
	defer it.Close()
	// Headers sort after their bodies, so the last key is the header of the
	// highest version in range.
	if !it.Last() {
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("sm: read snapshot: %w", err)
		}
		if q.MaxVersion != nil {
			return nil, codes.New(codes.SnapshotNotFound, "stream %q has no snapshot at or below version %d", q.Stream, *q.MaxVersion)
		}
		return nil, codes.New(codes.SnapshotNotFound, "stream %q has no snapshot", q.Stream)
	}
	version, kind := parseSnapshotKey(it.Key())
	if kind != snapshotHeader {
		return nil, fmt.Errorf("sm: corrupt store: snapshot body without header at %x", it.Key())
	}
	var hdr snapshotHeaderRecord
	if err := decode(it.Value(), &hdr); err != nil {
		return nil, err
	}
	b, found, err := get(v.snap, snapshotKey(q.Stream, version, snapshotBody))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("sm: corrupt store: snapshot header without body (%q, %d)", q.Stream, version)
	}
	var body snapshotBodyRecord
	if err := decode(b, &body); err != nil {
		return nil, err
	}
	return &Snapshot{
		Stream: q.Stream, Version: version, Type: hdr.Type,
		Data: nonNil(body.Data), DataContentType: hdr.DataContentType,
		Metadata: nonNil(body.Metadata), MetadataContentType: hdr.MetadataContentType,
		Created: hdr.Created,
	}, nil
}

func (v view) listSnapshots(q *SnapshotList) (*SnapshotPage, error) {
	if _, err := v.liveStream(q.Stream); err != nil {
		return nil, err
	}
	from := uint64(0)
	if q.After != nil {
		if *q.After == maxSnapshotVersion {
			return &SnapshotPage{Stream: q.Stream, Snapshots: []SnapshotInfo{}}, nil
		}
		from = *q.After + 1
	}
	p := snapshotPrefix(q.Stream)
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	defer it.Close()
	reply := &SnapshotPage{Stream: q.Stream, Snapshots: []SnapshotInfo{}}
	err := eachSnapshot(it, q.Stream, from, func(version uint64, b []byte) (bool, error) {
		if len(reply.Snapshots) == q.Limit {
			next := reply.Snapshots[q.Limit-1].Version
			reply.Next = &next
			return false, nil
		}
		var hdr snapshotHeaderRecord
		if err := decode(b, &hdr); err != nil {
			return false, err
		}
		reply.Snapshots = append(reply.Snapshots, SnapshotInfo{
			Version: version, Type: hdr.Type, DataSize: hdr.DataSize, MetadataSize: hdr.MetadataSize, Created: hdr.Created,
		})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}

package sm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Aggregate snapshots of streams (schemas/snapshots.md), stored in the
// store's own Pebble database, so that they are replicated through the
// store's Raft log like events and carried by its Raft snapshots (which copy
// every key). Each snapshot has two keys:
//
//	'a' name 0x00 version(8 BE) 'd'   snapshotBody: data and metadata
//	'a' name 0x00 version(8 BE) 'h'   snapshotHeader: type, content types, sizes, created
//
// so that listing reads headers only: it seeks from header to header and
// never loads a body.
//
// The rules, all checked here in the replicated apply:
//   - a snapshot is saved only for a stream that exists (stream_not_found)
//     and is not deleted (stream_deleted), at a version no higher than the
//     stream's last revision (snapshot_version_ahead);
//   - saving a version again with identical content succeeds as a duplicate
//     (with the original created time); with other content it is
//     snapshot_conflict;
//   - every snapshot is kept until deleted, unless a save carries keep_last:
//     then the stream keeps only its keep_last highest versions;
//   - deleting the stream deletes its snapshots, in the same apply.
//
// Results of the snapshot commands reuse Result's fields: LastRevision is the
// version, Timestamp the created time, Duplicate as for appends, and Current
// the number of snapshots removed (pruned by keep_last, or deleted).

// Ops of the snapshot commands (16–23 are reserved for snapshots).
const (
	OpSnapshotSave   uint8 = 16
	OpSnapshotDelete uint8 = 17
)

const (
	prefixSnapshot = 'a'
	snapshotBody   = 'd'
	snapshotHeader = 'h'
)

func init() {
	RegisterOp(OpSnapshotSave, (*applier).saveSnapshot)
	RegisterOp(OpSnapshotDelete, (*applier).deleteSnapshots)
	onStreamDelete(func(a *applier, stream string) error {
		_, err := a.removeSnapshots(stream, nil)
		return err
	})
}

func snapshotPrefix(stream string) []byte {
	k := make([]byte, 0, 2+len(stream)+9)
	k = append(append(k, prefixSnapshot), stream...)
	return append(k, 0)
}

// snapshotKey is the key of a snapshot's header or body.
func snapshotKey(stream string, version uint64, kind byte) []byte {
	return append(binary.BigEndian.AppendUint64(snapshotPrefix(stream), version), kind)
}

// parseSnapshotKey returns the version and kind of a key under snapshotPrefix.
func parseSnapshotKey(k []byte) (uint64, byte) {
	return binary.BigEndian.Uint64(k[len(k)-9:]), k[len(k)-1]
}

type snapshotHeaderRecord struct {
	_msgpack            struct{} `msgpack:",as_array"`
	Type                string
	DataContentType     string
	MetadataContentType string
	DataSize            uint64
	MetadataSize        uint64
	Created             int64
}

type snapshotBodyRecord struct {
	_msgpack struct{} `msgpack:",as_array"`
	Data     []byte
	Metadata []byte
}

// eachSnapshot calls fn with the version and header bytes of every snapshot
// of stream from version from (inclusive) up, in order, until fn returns
// false. It seeks from header to header and never loads a body.
func eachSnapshot(it *pebble.Iterator, stream string, from uint64, fn func(version uint64, header []byte) (bool, error)) error {
	for ok := it.SeekGE(snapshotKey(stream, from, snapshotHeader)); ok; {
		v, kind := parseSnapshotKey(it.Key())
		if kind != snapshotHeader { // the body of a later version: go to its header
			ok = it.SeekGE(snapshotKey(stream, v, snapshotHeader))
			continue
		}
		more, err := fn(v, it.Value())
		if err != nil || !more {
			return err
		}
		if v == maxSnapshotVersion {
			break
		}
		ok = it.SeekGE(snapshotKey(stream, v+1, snapshotHeader))
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("sm: snapshots of %q: %w", stream, err)
	}
	return nil
}

// maxSnapshotVersion: versions are stream revisions, which wire bounds far
// below this; it only stops eachSnapshot from wrapping around.
const maxSnapshotVersion = ^uint64(0)

// SnapshotSave is the Aux payload of an OpSnapshotSave command.
type SnapshotSave struct {
	_msgpack            struct{} `msgpack:",as_array"`
	Version             uint64
	Type                string
	Data                []byte
	DataContentType     string
	Metadata            []byte
	MetadataContentType string
	KeepLast            uint64 // 0: keep every snapshot
}

// SnapshotDelete is the Aux payload of an OpSnapshotDelete command.
type SnapshotDelete struct {
	_msgpack   struct{} `msgpack:",as_array"`
	HasVersion bool     // false: delete every snapshot of the stream
	Version    uint64
}

// SnapshotSaveCommand is the command that saves s for stream.
func SnapshotSaveCommand(stream string, s *SnapshotSave) Command {
	return Command{Op: OpSnapshotSave, Stream: stream, Aux: encode(s)}
}

// SnapshotDeleteCommand is the command that deletes one snapshot of stream
// (version not nil) or all of them.
func SnapshotDeleteCommand(stream string, version *uint64) Command {
	d := SnapshotDelete{}
	if version != nil {
		d.HasVersion, d.Version = true, *version
	}
	return Command{Op: OpSnapshotDelete, Stream: stream, Aux: encode(&d)}
}

// liveStream returns the stream's meta, or the outcome for a stream that
// does not exist or was deleted.
func (a *applier) liveStream(name string) (*streamMeta, error) {
	m, err := a.stream(name)
	if err != nil {
		return nil, err
	}
	return m, checkLive(m, name)
}

func (a *applier) saveSnapshot(c *Command, ts int64) (Result, error) {
	var s SnapshotSave
	if err := decode(c.Aux, &s); err != nil {
		// The same bytes fail the same way on every replica: an outcome.
		return Result{}, codes.New(codes.Internal, "bad snapshot command: %v", err)
	}
	m, err := a.liveStream(c.Stream)
	if err != nil {
		return Result{}, err
	}
	if s.Version > m.LastRevision {
		return Result{}, codes.New(codes.SnapshotVersionAhead,
			"snapshot version %d is beyond the last revision %d of stream %q", s.Version, m.LastRevision, c.Stream)
	}
	hdr := snapshotHeaderRecord{
		Type: s.Type, DataContentType: s.DataContentType, MetadataContentType: s.MetadataContentType,
		DataSize: uint64(len(s.Data)), MetadataSize: uint64(len(s.Metadata)), Created: ts,
	}
	r := Result{LastRevision: s.Version, Timestamp: ts}
	hkey, bkey := snapshotKey(c.Stream, s.Version, snapshotHeader), snapshotKey(c.Stream, s.Version, snapshotBody)
	old, found, err := get(a.b, hkey)
	if err != nil {
		return Result{}, err
	}
	if found {
		same, created, err := a.sameSnapshot(old, bkey, &hdr, &s)
		if err != nil {
			return Result{}, err
		}
		if !same {
			return Result{}, codes.New(codes.SnapshotConflict,
				"stream %q already has a snapshot of version %d with other content", c.Stream, s.Version)
		}
		r.Timestamp, r.Duplicate = created, true
	} else {
		if err := a.b.Set(bkey, encode(&snapshotBodyRecord{Data: s.Data, Metadata: s.Metadata}), nil); err != nil {
			return Result{}, fmt.Errorf("sm: save snapshot: %w", err)
		}
		if err := a.b.Set(hkey, encode(&hdr), nil); err != nil {
			return Result{}, fmt.Errorf("sm: save snapshot: %w", err)
		}
	}
	if s.KeepLast > 0 {
		if r.Current, err = a.pruneSnapshots(c.Stream, s.KeepLast); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}

// sameSnapshot compares a stored snapshot (header bytes old, body at bkey)
// with a new one, and returns the stored one's created time.
func (a *applier) sameSnapshot(old, bkey []byte, hdr *snapshotHeaderRecord, s *SnapshotSave) (bool, int64, error) {
	var prev snapshotHeaderRecord
	if err := decode(old, &prev); err != nil {
		return false, 0, err
	}
	if prev.Type != hdr.Type || prev.DataContentType != hdr.DataContentType || prev.MetadataContentType != hdr.MetadataContentType ||
		prev.DataSize != hdr.DataSize || prev.MetadataSize != hdr.MetadataSize {
		return false, prev.Created, nil
	}
	b, found, err := get(a.b, bkey)
	if err != nil {
		return false, 0, err
	}
	if !found {
		return false, 0, fmt.Errorf("sm: corrupt store: snapshot header without body at %x", bkey)
	}
	var body snapshotBodyRecord
	if err := decode(b, &body); err != nil {
		return false, 0, err
	}
	return bytes.Equal(body.Data, s.Data) && bytes.Equal(body.Metadata, s.Metadata), prev.Created, nil
}

// snapshotVersions lists the versions of a stream's snapshots, ascending,
// as the batch sees them.
func (a *applier) snapshotVersions(stream string) ([]uint64, error) {
	p := snapshotPrefix(stream)
	it := a.b.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	var versions []uint64
	err := eachSnapshot(it, stream, 0, func(v uint64, _ []byte) (bool, error) {
		versions = append(versions, v)
		return true, nil
	})
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("sm: snapshots of %q: %w", stream, cerr)
	}
	return versions, err
}

func (a *applier) deleteSnapshot(stream string, v uint64) error {
	if err := a.b.Delete(snapshotKey(stream, v, snapshotHeader), nil); err != nil {
		return fmt.Errorf("sm: delete snapshot: %w", err)
	}
	if err := a.b.Delete(snapshotKey(stream, v, snapshotBody), nil); err != nil {
		return fmt.Errorf("sm: delete snapshot: %w", err)
	}
	return nil
}

// pruneSnapshots removes all but the keep highest versions of stream.
func (a *applier) pruneSnapshots(stream string, keep uint64) (uint64, error) {
	versions, err := a.snapshotVersions(stream)
	if err != nil || uint64(len(versions)) <= keep {
		return 0, err
	}
	drop := versions[:uint64(len(versions))-keep]
	for _, v := range drop {
		if err := a.deleteSnapshot(stream, v); err != nil {
			return 0, err
		}
	}
	return uint64(len(drop)), nil
}

// removeSnapshots deletes one snapshot of stream (version not nil) or all of
// them, and returns how many it deleted.
func (a *applier) removeSnapshots(stream string, version *uint64) (uint64, error) {
	if version != nil {
		if _, found, err := get(a.b, snapshotKey(stream, *version, snapshotHeader)); err != nil || !found {
			return 0, err
		}
		return 1, a.deleteSnapshot(stream, *version)
	}
	versions, err := a.snapshotVersions(stream)
	if err != nil {
		return 0, err
	}
	for _, v := range versions {
		if err := a.deleteSnapshot(stream, v); err != nil {
			return 0, err
		}
	}
	return uint64(len(versions)), nil
}

func (a *applier) deleteSnapshots(c *Command, ts int64) (Result, error) {
	var d SnapshotDelete
	if err := decode(c.Aux, &d); err != nil {
		return Result{}, codes.New(codes.Internal, "bad snapshot command: %v", err)
	}
	if _, err := a.liveStream(c.Stream); err != nil {
		return Result{}, err
	}
	var version *uint64
	if d.HasVersion {
		version = &d.Version
	}
	n, err := a.removeSnapshots(c.Stream, version)
	if err != nil {
		return Result{}, err
	}
	if d.HasVersion && n == 0 {
		return Result{}, codes.New(codes.SnapshotNotFound, "stream %q has no snapshot of version %d", c.Stream, d.Version)
	}
	return Result{Current: n, Timestamp: ts}, nil
}

// SnapshotRead is the query of snapshot_read: the stream's snapshot with the
// highest version, or the highest at or below MaxVersion. Its answer is a
// *wire.Snapshot.
type SnapshotRead struct {
	Stream     string
	MaxVersion *uint64
}

// Run answers the query from v.
func (q SnapshotRead) Run(v view) (any, error) {
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
	return &wire.Snapshot{
		Stream: q.Stream, Version: version, Type: hdr.Type,
		Data: nonNil(body.Data), DataContentType: hdr.DataContentType,
		Metadata: nonNil(body.Metadata), MetadataContentType: hdr.MetadataContentType,
		Created: hdr.Created,
	}, nil
}

// SnapshotList is the query of snapshot_list: up to Limit snapshots of the
// stream with versions above After (all if nil), ascending. Its answer is a
// *wire.ListSnapshotsReply.
type SnapshotList struct {
	Stream string
	After  *uint64
	Limit  int
}

// Run answers the query from v.
func (q SnapshotList) Run(v view) (any, error) {
	if _, err := v.liveStream(q.Stream); err != nil {
		return nil, err
	}
	from := uint64(0)
	if q.After != nil {
		if *q.After == maxSnapshotVersion {
			return &wire.ListSnapshotsReply{Stream: q.Stream, Snapshots: []wire.SnapshotInfo{}}, nil
		}
		from = *q.After + 1
	}
	p := snapshotPrefix(q.Stream)
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	defer it.Close()
	reply := &wire.ListSnapshotsReply{Stream: q.Stream, Snapshots: []wire.SnapshotInfo{}}
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
		reply.Snapshots = append(reply.Snapshots, wire.SnapshotInfo{
			Version: version, Type: hdr.Type, DataSize: hdr.DataSize, MetadataSize: hdr.MetadataSize, Created: hdr.Created,
		})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}

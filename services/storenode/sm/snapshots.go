package sm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
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
//   - deleting the stream deletes its snapshots, in the same apply
//     (applier.deleteStream).

const (
	prefixSnapshot = 'a'
	snapshotBody   = 'd'
	snapshotHeader = 'h'
)

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
func eachSnapshot(it *kvIter, stream string, from uint64, fn func(version uint64, header []byte) (bool, error)) error {
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

func (a *applier) saveSnapshot(c *Command, ts int64) (SnapshotSaveResult, error) {
	var s SnapshotSave
	if err := decode(c.Aux, &s); err != nil {
		// The same bytes fail the same way on every replica: an outcome.
		return SnapshotSaveResult{}, codes.New(codes.Internal, "bad snapshot command: %v", err)
	}
	m, err := a.liveStream(c.Stream)
	if err != nil {
		return SnapshotSaveResult{}, err
	}
	if s.Version > m.LastRevision {
		return SnapshotSaveResult{}, codes.New(codes.SnapshotVersionAhead,
			"snapshot version %d is beyond the last revision %d of stream %q", s.Version, m.LastRevision, c.Stream)
	}
	hdr := snapshotHeaderRecord{
		Type: s.Type, DataContentType: s.DataContentType, MetadataContentType: s.MetadataContentType,
		DataSize: uint64(len(s.Data)), MetadataSize: uint64(len(s.Metadata)), Created: ts,
	}
	r := SnapshotSaveResult{Version: s.Version, Created: ts}
	hkey, bkey := snapshotKey(c.Stream, s.Version, snapshotHeader), snapshotKey(c.Stream, s.Version, snapshotBody)
	old, found, err := get(a.b, hkey)
	if err != nil {
		return SnapshotSaveResult{}, err
	}
	if found {
		same, created, err := a.sameSnapshot(old, bkey, &hdr, &s)
		if err != nil {
			return SnapshotSaveResult{}, err
		}
		if !same {
			return SnapshotSaveResult{}, codes.New(codes.SnapshotConflict,
				"stream %q already has a snapshot of version %d with other content", c.Stream, s.Version)
		}
		r.Created, r.Duplicate = created, true
	} else {
		if err := a.b.Set(bkey, encode(&snapshotBodyRecord{Data: s.Data, Metadata: s.Metadata}), nil); err != nil {
			return SnapshotSaveResult{}, fmt.Errorf("sm: save snapshot: %w", err)
		}
		if err := a.b.Set(hkey, encode(&hdr), nil); err != nil {
			return SnapshotSaveResult{}, fmt.Errorf("sm: save snapshot: %w", err)
		}
	}
	if s.KeepLast > 0 {
		if r.Pruned, err = a.pruneSnapshots(c.Stream, s.KeepLast); err != nil {
			return SnapshotSaveResult{}, err
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

func (a *applier) deleteSnapshots(c *Command, ts int64) (SnapshotDeleteResult, error) {
	var d SnapshotDelete
	if err := decode(c.Aux, &d); err != nil {
		return SnapshotDeleteResult{}, codes.New(codes.Internal, "bad snapshot command: %v", err)
	}
	if _, err := a.liveStream(c.Stream); err != nil {
		return SnapshotDeleteResult{}, err
	}
	var version *uint64
	if d.HasVersion {
		version = &d.Version
	}
	n, err := a.removeSnapshots(c.Stream, version)
	if err != nil {
		return SnapshotDeleteResult{}, err
	}
	if d.HasVersion && n == 0 {
		return SnapshotDeleteResult{}, codes.New(codes.SnapshotNotFound, "stream %q has no snapshot of version %d", c.Stream, d.Version)
	}
	return SnapshotDeleteResult{Deleted: n}, nil
}

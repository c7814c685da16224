package wire_test

// Aggregate snapshots: golden vectors, the documentation of the contract
// (schemas/snapshots.md), and fuzz targets for the four decoders:
//
//	go test -run='^$' -fuzz='^FuzzDecodeSaveSnapshot$' -fuzztime=200000x ./wire/

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// snapshotMessages are the snapshot messages: registered with the shared
// golden and schema tests (TestGoldenVectors, TestSchemaMatchesGoTypes).
var snapshotMessages = map[string]reflect.Type{
	"SaveSnapshotRequest":   reflect.TypeFor[wire.SaveSnapshotRequest](),
	"SaveSnapshotReply":     reflect.TypeFor[wire.SaveSnapshotReply](),
	"ReadSnapshotRequest":   reflect.TypeFor[wire.ReadSnapshotRequest](),
	"Snapshot":              reflect.TypeFor[wire.Snapshot](),
	"ListSnapshotsRequest":  reflect.TypeFor[wire.ListSnapshotsRequest](),
	"SnapshotInfo":          reflect.TypeFor[wire.SnapshotInfo](),
	"ListSnapshotsReply":    reflect.TypeFor[wire.ListSnapshotsReply](),
	"DeleteSnapshotRequest": reflect.TypeFor[wire.DeleteSnapshotRequest](),
	"DeleteSnapshotReply":   reflect.TypeFor[wire.DeleteSnapshotReply](),
}

var snapshotOps = []string{subjects.OpSnapshotSave, subjects.OpSnapshotRead, subjects.OpSnapshotList, subjects.OpSnapshotDelete}

func init() {
	for name, typ := range snapshotMessages {
		messageTypes[name] = typ
	}
	nestedOnly["SnapshotInfo"] = true
}

// Every snapshot message has golden cases; each golden request passes its
// own decoder as well as DecodeRequest, and each reply decodes strictly.
func TestSnapshotGoldenVectors(t *testing.T) {
	cases := readGolden(t)
	seen := map[string]int{}
	for name, c := range cases {
		if _, ok := snapshotMessages[c.Message]; !ok {
			continue
		}
		seen[c.Message]++
		data, err := os.ReadFile(filepath.Join(testdataDir, name+".msgpack"))
		if err != nil {
			t.Fatal(err)
		}
		l := wire.DefaultLimits()
		switch c.Message {
		case "SaveSnapshotRequest":
			_, err = wire.DecodeSaveSnapshot(data, l)
		case "ReadSnapshotRequest":
			_, err = wire.DecodeReadSnapshot(data, l)
		case "ListSnapshotsRequest":
			_, _, err = wire.DecodeListSnapshots(data, l)
		case "DeleteSnapshotRequest":
			_, err = wire.DecodeDeleteSnapshot(data, l)
		default:
			err = wire.Unmarshal(data, reflect.New(snapshotMessages[c.Message]).Interface())
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.HasPrefix(c.Operation, "snapshot_") {
			t.Errorf("%s: operation %q", name, c.Operation)
		}
	}
	for m := range snapshotMessages {
		if seen[m] == 0 && m != "SnapshotInfo" {
			t.Errorf("no golden case for %s", m)
		}
	}
	inv := readInvalid(t)
	perOp := map[string]int{}
	for _, c := range inv {
		if strings.HasPrefix(c.Operation, "snapshot_") {
			perOp[c.Operation]++
		}
	}
	for _, op := range snapshotOps {
		if perOp[op] == 0 {
			t.Errorf("no invalid vector for %s", op)
		}
	}
}

// schemas/snapshots.md documents every operation, field and error code of
// snapshots; operations.md and README.md point to it.
func TestSnapshotsAreDocumented(t *testing.T) {
	doc := readDoc(t, "snapshots.md")
	for _, op := range snapshotOps {
		if !strings.Contains(doc, "## `"+op+"`") || !strings.Contains(doc, "`"+subjects.Store("<store>", op)+"`") {
			t.Errorf("snapshots.md has no section for `%s` with its subject", op)
		}
	}
	for name, typ := range snapshotMessages {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("snapshots.md does not name `%s`", name)
		}
		for i := 0; i < typ.NumField(); i++ {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("msgpack"), ",")
			if !strings.Contains(doc, "| `"+tag+"` |") {
				t.Errorf("snapshots.md has no table row for %s.%s", name, tag)
			}
		}
	}
	for _, c := range []codes.Code{codes.SnapshotNotFound, codes.SnapshotConflict, codes.SnapshotVersionAhead,
		codes.StreamNotFound, codes.StreamDeleted, codes.EventTooLarge} {
		if !strings.Contains(doc, "`"+c.Name()+"`") {
			t.Errorf("snapshots.md does not mention `%s`", c.Name())
		}
	}
	if !strings.Contains(readDoc(t, "README.md"), "snapshots.md") {
		t.Error("README.md does not link snapshots.md")
	}
}

// ---- fuzz targets -----------------------------------------------------------

// snapshotDecodeCodes are the codes the snapshot decoders may return.
var snapshotDecodeCodes = map[codes.Code]bool{
	codes.MalformedRequest: true,
	codes.InvalidArgument:  true,
	codes.InvalidStream:    true,
	codes.EventTooLarge:    true,
	codes.RequestTooLarge:  true,
}

// addSnapshotSeeds adds hand-written inputs at the edges of the snapshot
// decoders to the shared seeds.
func addSnapshotSeeds(f *testing.F) {
	addSeeds(f)
	for _, s := range []string{
		// {"stream": "s", "version": uint64 max, "type": "T"}
		"\x83\xa6stream\xa1s\xa7version\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa4type\xa1T",
		// {"stream": "s", "version": nil, "type": "T", "keep_last": -1}
		"\x84\xa6stream\xa1s\xa7version\xc0\xa4type\xa1T\xa9keep_last\xff",
		// {"stream": "s", "max_version": 9223372036854775806}
		"\x82\xa6stream\xa1s\xabmax_version\xd3\x7f\xff\xff\xff\xff\xff\xff\xfe",
		// {"stream": "s", "after": 0, "limit": 1000}
		"\x83\xa6stream\xa1s\xa5after\x00\xa5limit\xcd\x03\xe8",
		// {"stream": "s", "version": 3, "type": "T", "data": h"00", "metadata": h""}
		"\x85\xa6stream\xa1s\xa7version\x03\xa4type\xa1T\xa4data\xc4\x01\x00\xa8metadata\xc4\x00",
	} {
		f.Add([]byte(s))
	}
}

func checkVersion(t *testing.T, field string, v *int64, required bool) {
	t.Helper()
	if v == nil {
		if required {
			t.Fatalf("%s absent but accepted", field)
		}
		return
	}
	if *v < 0 || *v > math.MaxInt64-1 {
		t.Fatalf("%s %d accepted", field, *v)
	}
}

func FuzzDecodeSaveSnapshot(f *testing.F) {
	addSnapshotSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, snapshotDecodeCodes, data, noCount(wire.DecodeSaveSnapshot), func(t *testing.T, r *wire.SaveSnapshotRequest, _ int, l wire.Limits) {
			checkStream(t, r.Stream)
			checkVersion(t, "version", r.Version, true)
			checkText(t, "type", r.Type, 1, 256)
			checkText(t, "data_content_type", r.DataContentType, 0, 128)
			checkText(t, "metadata_content_type", r.MetadataContentType, 0, 128)
			if r.KeepLast != nil && (*r.KeepLast < 1 || *r.KeepLast > math.MaxInt64-1) {
				t.Fatalf("keep_last %d accepted", *r.KeepLast)
			}
			if size := len(r.Type) + len(r.Data) + len(r.Metadata) + len(r.DataContentType) + len(r.MetadataContentType); size > l.WithDefaults().MaxEventSize {
				t.Fatalf("snapshot of %d bytes accepted with max_event_size %d", size, l.WithDefaults().MaxEventSize)
			}
		})
	})
}

func FuzzDecodeReadSnapshot(f *testing.F) {
	addSnapshotSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, snapshotDecodeCodes, data, noCount(wire.DecodeReadSnapshot), func(t *testing.T, r *wire.ReadSnapshotRequest, _ int, _ wire.Limits) {
			checkStream(t, r.Stream)
			checkVersion(t, "max_version", r.MaxVersion, false)
		})
	})
}

func FuzzDecodeListSnapshots(f *testing.F) {
	addSnapshotSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, snapshotDecodeCodes, data, wire.DecodeListSnapshots, func(t *testing.T, r *wire.ListSnapshotsRequest, n int, _ wire.Limits) {
			checkStream(t, r.Stream)
			checkVersion(t, "after", r.After, false)
			checkCount(t, "limit", r.Limit, n, 100, 1000)
		})
	})
}

func FuzzDecodeDeleteSnapshot(f *testing.F) {
	addSnapshotSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, snapshotDecodeCodes, data, noCount(wire.DecodeDeleteSnapshot), func(t *testing.T, r *wire.DeleteSnapshotRequest, _ int, _ wire.Limits) {
			checkStream(t, r.Stream)
			checkVersion(t, "version", r.Version, false)
		})
	})
}

// The snapshot decoders share the shape bounds of every decoder: hostile
// nesting is malformed_request before anything is decoded.
func TestSnapshotDecodeBounds(t *testing.T) {
	deep := append([]byte("\x81\xa6stream"), append(bytes.Repeat([]byte{0x91}, 1<<16), 0xc0)...)
	for op, dec := range map[string]func([]byte, wire.Limits) error{
		"save":   func(b []byte, l wire.Limits) error { _, err := wire.DecodeSaveSnapshot(b, l); return err },
		"read":   func(b []byte, l wire.Limits) error { _, err := wire.DecodeReadSnapshot(b, l); return err },
		"list":   func(b []byte, l wire.Limits) error { _, _, err := wire.DecodeListSnapshots(b, l); return err },
		"delete": func(b []byte, l wire.Limits) error { _, err := wire.DecodeDeleteSnapshot(b, l); return err },
	} {
		if err := dec(deep, wire.DefaultLimits()); !errors.Is(err, codes.ErrMalformedRequest) {
			t.Errorf("%s: deep nesting gave %v", op, err)
		}
	}
}

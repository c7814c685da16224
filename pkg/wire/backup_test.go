package wire_test

// Backup and restore: golden vectors, the documentation of the contract
// (schemas/backup.md), and fuzz targets for the decoders:
//
//	go test -run='^$' -fuzz='^FuzzDecodeRestore$' -fuzztime=200000x ./wire/

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// backupMessages are the backup messages and records: registered with the
// shared golden and schema tests (TestGoldenVectors, TestSchemaMatchesGoTypes).
var backupMessages = map[string]reflect.Type{
	"BackupRequest":      reflect.TypeFor[wire.BackupRequest](),
	"BackupReply":        reflect.TypeFor[wire.BackupReply](),
	"RestoreRequest":     reflect.TypeFor[wire.RestoreRequest](),
	"RestoreReply":       reflect.TypeFor[wire.RestoreReply](),
	"BackupHeader":       reflect.TypeFor[wire.BackupHeader](),
	"BackupChunk":        reflect.TypeFor[wire.BackupChunk](),
	"BackupEvent":        reflect.TypeFor[wire.BackupEvent](),
	"BackupStream":       reflect.TypeFor[wire.BackupStream](),
	"BackupSnapshot":     reflect.TypeFor[wire.BackupSnapshot](),
	"BackupSubscription": reflect.TypeFor[wire.BackupSubscription](),
	"BackupParked":       reflect.TypeFor[wire.BackupParked](),
	"BackupCounts":       reflect.TypeFor[wire.BackupCounts](),
	"BackupTrailer":      reflect.TypeFor[wire.BackupTrailer](),
}

func init() {
	for name, typ := range backupMessages {
		messageTypes[name] = typ
	}
	for _, n := range []string{"BackupHeader", "BackupChunk", "BackupEvent", "BackupStream", "BackupSnapshot",
		"BackupSubscription", "BackupParked", "BackupCounts"} {
		nestedOnly[n] = true // in the replies and requests' golden cases
	}
}

// backup.md has a section per operation with its subject, names every
// message and has a table row for every field; it mentions the errors.
func TestBackupIsDocumented(t *testing.T) {
	doc := readDoc(t, "backup.md")
	for _, op := range []string{subjects.OpBackup, subjects.OpRestore} {
		if !strings.Contains(doc, "## `"+op+"`") || !strings.Contains(doc, "`"+subjects.Store("<store>", op)+"`") {
			t.Errorf("backup.md has no section for `%s` with its subject", op)
		}
	}
	for name, typ := range backupMessages {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("backup.md does not name `%s`", name)
		}
		for i := 0; i < typ.NumField(); i++ {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("msgpack"), ",")
			if !strings.Contains(doc, "| `"+tag+"` |") {
				t.Errorf("backup.md has no table row for %s.%s", name, tag)
			}
		}
	}
	for _, c := range []codes.Code{codes.InvalidBackup, codes.UnsupportedBackupVersion, codes.BackupSessionNotFound,
		codes.StoreNotEmpty, codes.StoreRestoring} {
		if !strings.Contains(doc, "`"+c.Name()+"`") {
			t.Errorf("backup.md does not mention `%s`", c.Name())
		}
	}
	if !strings.Contains(readDoc(t, "README.md"), "backup.md") {
		t.Error("README.md does not link backup.md")
	}
}

// A chunk's records are checked one by one and in order; the event ids
// come back canonical.
func TestValidateBackupChunk(t *testing.T) {
	l := wire.DefaultLimits()
	id := uuid.New()
	ev := func(pos uint64) wire.BackupEvent {
		return wire.BackupEvent{Position: pos, ID: strings.ToUpper(id.String()), Stream: "s", Type: "T", Data: []byte{}, Metadata: []byte{}}
	}
	good := wire.BackupChunk{Events: []wire.BackupEvent{ev(4), ev(5)}}
	if err := wire.ValidateBackupChunk(&good, l); err != nil || good.Events[0].ID != id.String() {
		t.Fatalf("valid chunk: %v (id %s)", err, good.Events[0].ID)
	}
	bad := map[string]wire.BackupChunk{
		"gap":             {Events: []wire.BackupEvent{ev(4), ev(6)}},
		"stream counters": {Streams: []wire.BackupStream{{Stream: "s", Count: 2, LastRevision: 0}}},
		"stream order":    {Streams: []wire.BackupStream{{Stream: "b", Count: 1}, {Stream: "a", Count: 1}}},
		"snapshot order":  {Snapshots: []wire.BackupSnapshot{{Stream: "s", Version: 2, Type: "T"}, {Stream: "s", Version: 1, Type: "T"}}},
		"subscription":    {Subscriptions: []wire.BackupSubscription{{Name: "bad name", Start: "start", MaxInFlight: 1, AckTimeoutMs: 1000, Strategy: wire.StrategyRoundRobin}}},
		"parked order":    {Parked: []wire.BackupParked{{Subscription: "a", Position: 2}, {Subscription: "a", Position: 2}}},
		"reserved stream": {Events: []wire.BackupEvent{{ID: id.String(), Stream: "$all", Type: "T"}}},
	}
	for name, c := range bad {
		if err := wire.ValidateBackupChunk(&c, l); codes.As(err) == nil || codes.As(err).Code != codes.InvalidBackup {
			t.Errorf("%s: %v, want invalid_backup", name, err)
		}
	}
}

// ---- fuzz targets -----------------------------------------------------------

var backupDecodeCodes = map[codes.Code]bool{
	codes.MalformedRequest:         true,
	codes.InvalidArgument:          true,
	codes.InvalidBackup:            true,
	codes.UnsupportedBackupVersion: true,
	codes.EventTooLarge:            true,
	codes.RequestTooLarge:          true,
}

func checkBackupChunk(t *testing.T, c *wire.BackupChunk, l wire.Limits) {
	t.Helper()
	if err := wire.ValidateBackupChunk(c, l.WithDefaults()); err != nil {
		t.Fatalf("decoded chunk does not validate: %v", err)
	}
	for i := range c.Events {
		if _, err := uuid.Parse(c.Events[i].ID); err != nil || len(c.Events[i].ID) != 36 {
			t.Fatalf("event id %q accepted", c.Events[i].ID)
		}
		checkStream(t, c.Events[i].Stream)
	}
}

func FuzzDecodeBackup(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, backupDecodeCodes, data, noCount(wire.DecodeBackup), func(t *testing.T, r *wire.BackupRequest, _ int, _ wire.Limits) {
			if r.Seq < 0 || (r.Session == "" && (r.Seq != 0 || r.Cancel)) || len(r.Session) > wire.MaxBackupSessionLen {
				t.Fatalf("request %+v accepted", r)
			}
		})
	})
}

func FuzzDecodeRestore(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, backupDecodeCodes, data, noCount(wire.DecodeRestore), func(t *testing.T, r *wire.RestoreRequest, _ int, l wire.Limits) {
			switch {
			case r.Seq < 0:
				t.Fatalf("seq %d accepted", r.Seq)
			case r.Seq == 0 && (r.Header == nil || r.Chunk != nil || r.Counts != nil):
				t.Fatalf("step 0 %+v accepted", r)
			case r.Seq > 0 && (r.Header != nil || (r.Chunk == nil) == (r.Counts == nil)):
				t.Fatalf("step %d %+v accepted", r.Seq, r)
			}
			if r.Header != nil && r.Header.Format != wire.BackupFormat {
				t.Fatalf("format %d accepted", r.Header.Format)
			}
			if r.Chunk != nil {
				checkBackupChunk(t, r.Chunk, l)
			}
		})
	})
}

func FuzzDecodeBackupChunk(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, backupDecodeCodes, data, noCount(wire.DecodeBackupChunk), func(t *testing.T, c *wire.BackupChunk, _ int, l wire.Limits) {
			checkBackupChunk(t, c, l)
		})
	})
}

package tests

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Aggregate snapshots, end to end: client → NATS → gateway → store leader →
// Raft → Pebble. The rules are in schemas/snapshots.md.

func appendN(t *testing.T, s *client.Store, stream string, n int) {
	t.Helper()
	evs := make([]client.Event, n)
	for i := range evs {
		evs[i] = ev("E", strconv.Itoa(i))
	}
	if _, err := s.Append(ctxT(t), stream, client.Any, evs...); err != nil {
		t.Fatal(err)
	}
}

func snap(version uint64, data string) client.NewSnapshot {
	return client.NewSnapshot{
		Version: version, Type: "OrderState", Data: []byte(data), DataContentType: "application/json",
		Metadata: []byte(`{"v":` + strconv.FormatUint(version, 10) + `}`), MetadataContentType: "application/json",
	}
}

func listAllSnapshots(t *testing.T, s *client.Store, stream string, page int) []client.SnapshotInfo {
	t.Helper()
	var out []client.SnapshotInfo
	var after *uint64
	for range 1000 {
		l, err := s.ListSnapshots(ctxT(t), stream, client.ListSnapshotsOptions{After: after, Limit: page})
		if err != nil {
			t.Fatal(err)
		}
		if l.Stream != stream || len(l.Snapshots) > page {
			t.Fatalf("page %+v", l)
		}
		out = append(out, l.Snapshots...)
		if l.Next == nil {
			return out
		}
		after = l.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func snapshotVersions(infos []client.SnapshotInfo) string {
	vs := make([]string, len(infos))
	for i, s := range infos {
		vs[i] = strconv.FormatUint(s.Version, 10)
	}
	return strings.Join(vs, ",")
}

func TestSnapshotsRoundTrip(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store
	appendN(t, s, "order-1", 30)

	var created []int64
	for _, v := range []uint64{4, 9, 14, 19, 24, 29} {
		r, err := s.SaveSnapshot(ctx, "order-1", snap(v, fmt.Sprintf(`{"n":%d}`, v)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Stream != "order-1" || r.Version != v || r.Created == 0 || r.Duplicate || r.Pruned != 0 {
			t.Fatalf("save %d: %+v", v, r)
		}
		if len(created) > 0 && r.Created < created[len(created)-1] {
			t.Fatalf("created went back: %d after %d", r.Created, created[len(created)-1])
		}
		created = append(created, r.Created)
	}

	latest, err := s.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := client.Snapshot{Stream: "order-1", Version: 29, Type: "OrderState", Data: []byte(`{"n":29}`), DataContentType: "application/json",
		Metadata: []byte(`{"v":29}`), MetadataContentType: "application/json", Created: created[5]}
	if fmt.Sprint(*latest) != fmt.Sprint(want) {
		t.Fatalf("latest %+v\nwant   %+v", *latest, want)
	}
	for max, wantV := range map[uint64]uint64{4: 4, 8: 4, 9: 9, 23: 19, 29: 29, 1 << 40: 29} {
		got, err := s.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{MaxVersion: client.Revision(max)})
		if err != nil || got.Version != wantV || string(got.Data) != fmt.Sprintf(`{"n":%d}`, wantV) {
			t.Fatalf("at or below %d: %+v %v, want version %d", max, got, err, wantV)
		}
	}
	_, err = s.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{MaxVersion: client.Revision(3)})
	wantCode(t, err, codes.SnapshotNotFound)
	if !errors.Is(err, client.ErrSnapshotNotFound) {
		t.Fatalf("errors.Is(%v, ErrSnapshotNotFound) is false", err)
	}

	// Loading an aggregate: the latest snapshot, then the events after it.
	p, err := s.Read(ctx, "order-1", client.ReadOptions{From: client.Revision(latest.Version + 1)})
	if err != nil || len(p.Events) != 0 || !p.EndOfStream {
		t.Fatalf("events after the latest snapshot: %+v %v", p, err)
	}

	// Listing, in pages of every size.
	for _, page := range []int{1, 2, 4, 6, 100} {
		infos := listAllSnapshots(t, s, "order-1", page)
		if got := snapshotVersions(infos); got != "4,9,14,19,24,29" {
			t.Fatalf("pages of %d: %s", page, got)
		}
		for i, info := range infos {
			md := fmt.Sprintf(`{"v":%d}`, info.Version)
			if info.Type != "OrderState" || info.DataSize != uint64(len(fmt.Sprintf(`{"n":%d}`, info.Version))) ||
				info.MetadataSize != uint64(len(md)) || info.Created != created[i] {
				t.Fatalf("info %+v", info)
			}
		}
	}
	l, err := s.ListSnapshots(ctx, "order-1", client.ListSnapshotsOptions{After: client.Revision(29)})
	if err != nil || len(l.Snapshots) != 0 || l.Next != nil {
		t.Fatalf("list after the last: %+v %v", l, err)
	}

	// Delete one, then all.
	d, err := s.DeleteSnapshot(ctx, "order-1", 29)
	if err != nil || d.Deleted != 1 || d.Stream != "order-1" {
		t.Fatalf("delete 29: %+v %v", d, err)
	}
	_, err = s.DeleteSnapshot(ctx, "order-1", 29)
	wantCode(t, err, codes.SnapshotNotFound)
	if got, err := s.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{}); err != nil || got.Version != 24 {
		t.Fatalf("latest after deleting 29: %+v %v", got, err)
	}
	d, err = s.DeleteSnapshots(ctx, "order-1")
	if err != nil || d.Deleted != 5 {
		t.Fatalf("delete all: %+v %v", d, err)
	}
	_, err = s.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.SnapshotNotFound)
	if d, err := s.DeleteSnapshots(ctx, "order-1"); err != nil || d.Deleted != 0 {
		t.Fatalf("delete all of none: %+v %v", d, err)
	}
	// The stream's events are untouched by all this.
	if info, err := s.StreamInfo(ctx, "order-1"); err != nil || info.EventCount != 30 {
		t.Fatalf("stream info %+v %v", info, err)
	}
}

// Every rule and error of the snapshot operations, through the Go client.
func TestSnapshotRulesAndErrors(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store

	_, err := s.SaveSnapshot(ctx, "nope", snap(0, "x"))
	wantCode(t, err, codes.StreamNotFound)
	_, err = s.ReadSnapshot(ctx, "nope", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.StreamNotFound)
	_, err = s.ListSnapshots(ctx, "nope", client.ListSnapshotsOptions{})
	wantCode(t, err, codes.StreamNotFound)
	_, err = s.DeleteSnapshots(ctx, "nope")
	wantCode(t, err, codes.StreamNotFound)

	appendN(t, s, "acct-1", 3) // revisions 0..2
	_, err = s.SaveSnapshot(ctx, "acct-1", snap(3, "x"))
	wantCode(t, err, codes.SnapshotVersionAhead)
	if !errors.Is(err, client.ErrSnapshotVersionAhead) {
		t.Fatal("errors.Is ErrSnapshotVersionAhead")
	}
	_, err = s.ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.SnapshotNotFound)
	_, err = s.DeleteSnapshot(ctx, "acct-1", 0)
	wantCode(t, err, codes.SnapshotNotFound)

	first, err := s.SaveSnapshot(ctx, "acct-1", snap(2, "state-2"))
	if err != nil {
		t.Fatal(err)
	}
	// Saving the same snapshot again (a retry) is a duplicate with the
	// original created time; other content at the same version a conflict.
	again, err := s.SaveSnapshot(ctx, "acct-1", snap(2, "state-2"))
	if err != nil || !again.Duplicate || again.Created != first.Created || again.Version != 2 {
		t.Fatalf("duplicate save: %+v %v (first %+v)", again, err, first)
	}
	_, err = s.SaveSnapshot(ctx, "acct-1", snap(2, "state-2b"))
	wantCode(t, err, codes.SnapshotConflict)
	if !errors.Is(err, client.ErrSnapshotConflict) {
		t.Fatal("errors.Is ErrSnapshotConflict")
	}
	other := snap(2, "state-2")
	other.Type = "AccountState"
	_, err = s.SaveSnapshot(ctx, "acct-1", other)
	wantCode(t, err, codes.SnapshotConflict)
	if got, err := s.ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{}); err != nil || string(got.Data) != "state-2" || got.Created != first.Created {
		t.Fatalf("after conflicts: %+v %v", got, err)
	}

	// Size: max_event_size bounds type + data + metadata + content types.
	big := snap(1, "")
	big.Data = bytes.Repeat([]byte("x"), 1<<20)
	_, err = s.SaveSnapshot(ctx, "acct-1", big)
	wantCode(t, err, codes.EventTooLarge)
	big.Data = big.Data[:1<<20-len(big.Type)-len(big.Metadata)-len(big.DataContentType)-len(big.MetadataContentType)]
	if _, err := s.SaveSnapshot(ctx, "acct-1", big); err != nil {
		t.Fatalf("a snapshot of exactly max_event_size: %v", err)
	}
	if got, err := s.ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{MaxVersion: client.Revision(1)}); err != nil || !bytes.Equal(got.Data, big.Data) {
		t.Fatalf("read the large snapshot: %v", err)
	}

	// keep_last prunes the lowest versions.
	appendN(t, s, "acct-2", 10)
	for v := range uint64(6) {
		if _, err := s.SaveSnapshot(ctx, "acct-2", snap(v, "s")); err != nil {
			t.Fatal(err)
		}
	}
	kl := snap(9, "s9")
	kl.KeepLast = 3
	r, err := s.SaveSnapshot(ctx, "acct-2", kl)
	if err != nil || r.Pruned != 4 {
		t.Fatalf("save with keep_last 3: %+v %v", r, err)
	}
	if got := snapshotVersions(listAllSnapshots(t, s, "acct-2", 10)); got != "4,5,9" {
		t.Fatalf("kept %s", got)
	}

	// Deleting the stream deletes its snapshots; its snapshot operations then
	// answer stream_deleted.
	if _, err := s.DeleteStream(ctx, "acct-2", client.Any); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadSnapshot(ctx, "acct-2", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.ListSnapshots(ctx, "acct-2", client.ListSnapshotsOptions{})
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.SaveSnapshot(ctx, "acct-2", snap(1, "x"))
	wantCode(t, err, codes.StreamDeleted)
	_, err = s.DeleteSnapshots(ctx, "acct-2")
	wantCode(t, err, codes.StreamDeleted)
	// Other streams keep theirs.
	if got, err := s.ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{}); err != nil || got.Version != 2 {
		t.Fatalf("acct-1 after deleting acct-2: %+v %v", got, err)
	}

	// Names and stores.
	_, err = s.SaveSnapshot(ctx, "$all", snap(0, "x"))
	wantCode(t, err, codes.InvalidStream)
	_, err = s.ReadSnapshot(ctx, "", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.InvalidStream)
	noType := snap(0, "x")
	noType.Type = ""
	_, err = s.SaveSnapshot(ctx, "acct-1", noType)
	wantCode(t, err, codes.InvalidArgument)
	_, err = s.ListSnapshots(ctx, "acct-1", client.ListSnapshotsOptions{Limit: 1001})
	wantCode(t, err, codes.InvalidArgument)
	_, err = in.Client.Store("nostore").ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.StoreNotFound)
}

// Malformed requests sent as raw NATS messages get typed errors and leave
// every stored snapshot and event as it was.
func TestSnapshotBadInput(t *testing.T) {
	in := startLogbook(t)
	ctx, s := ctxT(t), in.Store
	appendN(t, s, "acct-1", 5)
	for v := range uint64(3) {
		if _, err := s.SaveSnapshot(ctx, "acct-1", snap(v, "state")); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() string {
		infos := listAllSnapshots(t, s, "acct-1", 100)
		latest, err := s.ReadSnapshot(ctx, "acct-1", client.ReadSnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(infos, *latest, readAllForward(t, s, nil, 1000))
	}
	before := stored()

	m := func(fields map[string]any) []byte { return mp(t, fields) }
	okSave := map[string]any{"stream": "acct-1", "version": 1, "type": "T", "data": []byte("changed")}
	with := func(base map[string]any, kv ...any) []byte {
		f := map[string]any{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(f, kv[i].(string))
			} else {
				f[kv[i].(string)] = kv[i+1]
			}
		}
		return m(f)
	}
	cases := []errorCase{
		{"save not msgpack", "snapshot_save", []byte{0xc1}, codes.MalformedRequest},
		{"save empty payload", "snapshot_save", nil, codes.MalformedRequest},
		{"save array", "snapshot_save", mp(t, []any{"acct-1", 1}), codes.MalformedRequest},
		{"save trailing bytes", "snapshot_save", append(with(okSave), 0xc0), codes.MalformedRequest},
		{"save deep nesting", "snapshot_save", append([]byte("\x81\xa6stream"), append(bytes.Repeat([]byte{0x91}, 100), 0xc0)...), codes.MalformedRequest},
		{"save unknown key", "snapshot_save", with(okSave, "overwrite", true), codes.InvalidArgument},
		{"save missing version", "snapshot_save", with(okSave, "version", nil), codes.InvalidArgument},
		{"save negative version", "snapshot_save", with(okSave, "version", -1), codes.InvalidArgument},
		{"save huge version", "snapshot_save", with(okSave, "version", uint64(1<<63)), codes.InvalidArgument},
		{"save version string", "snapshot_save", with(okSave, "version", "1"), codes.InvalidArgument},
		{"save missing type", "snapshot_save", with(okSave, "type", nil), codes.InvalidArgument},
		{"save type control char", "snapshot_save", with(okSave, "type", "a\x01"), codes.InvalidArgument},
		{"save type too long", "snapshot_save", with(okSave, "type", strings.Repeat("t", 257)), codes.InvalidArgument},
		{"save data wrong type", "snapshot_save", with(okSave, "data", 7), codes.InvalidArgument},
		{"save content type too long", "snapshot_save", with(okSave, "data_content_type", strings.Repeat("c", 129)), codes.InvalidArgument},
		{"save keep_last zero", "snapshot_save", with(okSave, "keep_last", 0), codes.InvalidArgument},
		{"save missing stream", "snapshot_save", with(okSave, "stream", nil), codes.InvalidStream},
		{"save reserved stream", "snapshot_save", with(okSave, "stream", "$all"), codes.InvalidStream},
		{"save too large", "snapshot_save", with(okSave, "data", bytes.Repeat([]byte("x"), 1<<20+1)), codes.EventTooLarge},
		{"save request too large", "snapshot_save", with(okSave, "metadata", bytes.Repeat([]byte("x"), 4<<20)), codes.RequestTooLarge},
		{"read unknown key", "snapshot_read", m(map[string]any{"stream": "acct-1", "version": 1}), codes.InvalidArgument},
		{"read negative max_version", "snapshot_read", m(map[string]any{"stream": "acct-1", "max_version": -1}), codes.InvalidArgument},
		{"read stream wrong type", "snapshot_read", m(map[string]any{"stream": 3}), codes.InvalidArgument},
		{"read control char stream", "snapshot_read", m(map[string]any{"stream": "a\x00b"}), codes.InvalidStream},
		{"list limit zero", "snapshot_list", m(map[string]any{"stream": "acct-1", "limit": 0}), codes.InvalidArgument},
		{"list limit too large", "snapshot_list", m(map[string]any{"stream": "acct-1", "limit": 1001}), codes.InvalidArgument},
		{"list negative after", "snapshot_list", m(map[string]any{"stream": "acct-1", "after": -1}), codes.InvalidArgument},
		{"list missing stream", "snapshot_list", m(map[string]any{}), codes.InvalidStream},
		{"delete negative version", "snapshot_delete", m(map[string]any{"stream": "acct-1", "version": -3}), codes.InvalidArgument},
		{"delete version float", "snapshot_delete", m(map[string]any{"stream": "acct-1", "version": 1.5}), codes.InvalidArgument},
		{"delete unknown key", "snapshot_delete", m(map[string]any{"stream": "acct-1", "all": true}), codes.InvalidArgument},
		{"delete nil payload", "snapshot_delete", []byte{0xc0}, codes.MalformedRequest},
		{"unknown snapshot op", "snapshot_compact", m(map[string]any{"stream": "acct-1"}), codes.UnknownOperation},
	}
	checkErrorCases(t, in, "store.default.", cases)
	if after := stored(); after != before {
		t.Fatalf("stored data changed:\nbefore %s\nafter  %s", before, after)
	}
	// A well-formed raw request works, and its reply decodes strictly.
	msg, err := rawRequest(t, in, "store.default.snapshot_read", m(map[string]any{"stream": "acct-1", "max_version": 1}))
	if err != nil || wire.ErrorFromMsg(msg) != nil {
		t.Fatalf("raw read: %v %v", err, wire.ErrorFromMsg(msg))
	}
	var got wire.Snapshot
	if err := wire.Unmarshal(msg.Data, &got); err != nil || got.Version != 1 || string(got.Data) != "state" {
		t.Fatalf("raw read reply %+v %v", got, err)
	}
}

// Snapshots are in the store's replicated state: they survive a restart,
// and a stream deleted before the restart has none after it.
func TestSnapshotsSurviveRestart(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	appendN(t, in.Store, "keep-1", 10)
	appendN(t, in.Store, "gone-1", 2)
	for _, v := range []uint64{3, 6, 9} {
		if _, err := in.Store.SaveSnapshot(ctx, "keep-1", snap(v, fmt.Sprint("s", v))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Store.SaveSnapshot(ctx, "gone-1", snap(1, "g")); err != nil {
		t.Fatal(err)
	}
	latest, err := in.Store.ReadSnapshot(ctx, "keep-1", client.ReadSnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Store.DeleteStream(ctx, "gone-1", client.Any); err != nil {
		t.Fatal(err)
	}

	in.restart()
	ctx = ctxT(t)
	got, err := in.Store.ReadSnapshot(ctx, "keep-1", client.ReadSnapshotOptions{})
	if err != nil || fmt.Sprint(*got) != fmt.Sprint(*latest) {
		t.Fatalf("after restart: %+v %v, want %+v", got, err, latest)
	}
	if vs := snapshotVersions(listAllSnapshots(t, in.Store, "keep-1", 2)); vs != "3,6,9" {
		t.Fatalf("after restart: %s", vs)
	}
	_, err = in.Store.ReadSnapshot(ctx, "gone-1", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.StreamDeleted)
	// Saving after the restart continues normally; the old one is still a duplicate.
	if r, err := in.Store.SaveSnapshot(ctx, "keep-1", snap(9, "s9")); err != nil || !r.Duplicate || r.Created != latest.Created {
		t.Fatalf("duplicate after restart: %+v %v", r, err)
	}
}

// Snapshots work in any managed store, each store with its own snapshots and
// its own max_event_size.
func TestSnapshotsPerStore(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	if _, err := in.Client.Stores().Create(ctx, "snaps", &client.StoreSettings{MaxEventSize: i64(1000)}); err != nil {
		t.Fatal(err)
	}
	other, def := in.Client.Store("snaps"), in.Store
	appendN(t, other, "order-1", 3)
	appendN(t, def, "order-1", 3)
	if _, err := other.SaveSnapshot(ctx, "order-1", snap(2, "in snaps")); err != nil {
		t.Fatal(err)
	}
	_, err := def.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{})
	wantCode(t, err, codes.SnapshotNotFound)
	if got, err := other.ReadSnapshot(ctx, "order-1", client.ReadSnapshotOptions{}); err != nil || string(got.Data) != "in snaps" {
		t.Fatalf("snaps: %+v %v", got, err)
	}
	// The store's own max_event_size (1000) applies, below the cluster's.
	big := snap(1, strings.Repeat("x", 1000))
	_, err = other.SaveSnapshot(ctx, "order-1", big)
	wantCode(t, err, codes.EventTooLarge)
	if _, err := def.SaveSnapshot(ctx, "order-1", big); err != nil {
		t.Fatalf("the default store allows 1 MiB: %v", err)
	}
}

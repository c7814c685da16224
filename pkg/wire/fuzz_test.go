package wire_test

// Fuzz targets for every decoder of untrusted bytes. Run one with, from the
// pkg module:
//
//	go test -run='^$' -fuzz='^FuzzDecodeAppend$' -fuzztime=20s ./wire/
//
// Two things about the Go fuzzing engine (go1.26): minimising a new
// interesting input can take the rest of a short run (the exec counter
// stalls at 0/sec; add -fuzzminimizetime=1s), and a duration -fuzztime can
// end with a spurious "context deadline exceeded" failure and no crasher
// (golang/go#75804; a count such as -fuzztime=200000x avoids it).
//
// Each target is seeded with the golden and invalid vectors of
// schemas/testdata and checks, for every input and two sets of limits (the
// defaults and small ones, so that the limit checks are reached):
//   - the decoder does not panic and leaves its input alone;
//   - an error is a *codes.Error whose code is defined and is one a decoder
//     may return (a 400 or 413 code, never internal);
//   - an accepted request satisfies the documented contract, checked here
//     independently of validate.go;
//   - an accepted request survives Marshal then decode unchanged, and its
//     encoding is then stable.

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

// fuzzLimits: the defaults, and small limits that fuzzed inputs can reach.
var fuzzLimits = []wire.Limits{
	wire.DefaultLimits(),
	{MaxEventSize: 64, MaxAppendEvents: 3, MaxRequestSize: 2048, MaxReadCount: 10, MaxReplySize: 1 << 20},
}

// decodeCodes are the codes a Decode function may return.
var decodeCodes = map[codes.Code]bool{
	codes.MalformedRequest: true,
	codes.InvalidArgument:  true,
	codes.InvalidStream:    true,
	codes.InvalidEventID:   true,
	codes.EmptyAppend:      true,
	codes.InvalidEventType: true,
	codes.EventTooLarge:    true,
	codes.TooManyEvents:    true,
	codes.RequestTooLarge:  true,
}

// unmarshalCodes are the codes wire.Unmarshal may return.
var unmarshalCodes = map[codes.Code]bool{codes.MalformedRequest: true, codes.InvalidArgument: true}

const maxSeedSize = 1024

// addSeeds adds every golden and invalid payload, and a few hand-written
// inputs at the edges of the decoder, to the corpus of f.
func addSeeds(f *testing.F) {
	for _, pattern := range []string{"*.msgpack", "invalid/*.msgpack"} {
		files, err := filepath.Glob(filepath.Join(testdataDir, pattern))
		if err != nil {
			f.Fatal(err)
		}
		if len(files) == 0 {
			f.Fatalf("no seeds match %s in %s", pattern, testdataDir)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			// Large seeds (too_many_events) make every execution and every
			// minimisation slow; the small fuzzLimits reach the same paths.
			if len(b) <= maxSeedSize {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		// {"stream": "s", "events": [["", "t", h"78", "", nil, ""]]}: an event as a positional array.
		"\x82\xa6stream\xa1s\xa6events\x91\x96\xa0\xa1t\xc4\x01x\xa0\xc0\xa0",
		// {"stream": h"73"} with stream as bin, and duplicate keys.
		"\x82\xa6stream\xc4\x01s\xa6stream\xa1t",
		// {"stream": nil, "max_count": nil, "from_revision": uint64 max}
		"\x83\xa6stream\xc0\xa9max_count\xc0\xadfrom_revision\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
		// {"filter": {"event_types": [nil]}}
		"\x81\xa6filter\x81\xabevent_types\x91\xc0",
		// {"code": 40901, "name": "x", "message": "", "current_revision": -1}
		"\x84\xa4code\xcd\x9f\xc5\xa4name\xa1x\xa7message\xa0\xb0current_revision\xff",
		// map16 and map32 headers, ext types, deep-ish nesting.
		"\xde\x00\x01\xa6stream\xa1s",
		"\xdf\x00\x00\x00\x01\xa6stream\xa1s",
		"\x81\xa6stream\xd4\x01\x02",
		"\x81\xa6stream" + strings.Repeat("\x91", 200) + "\xc0",
		// {"store": "a", "settings": {"replication_factor": uint64 max}}
		"\x82\xa5store\xa1a\xa8settings\x81\xb2replication_factor\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
		// {"store": "a", "settings": nil}, {"after": "z", "limit": nil}
		"\x82\xa5store\xa1a\xa8settings\xc0",
		"\x82\xa5after\xa1z\xa5limit\xc0",
	} {
		f.Add([]byte(s))
	}
}

func checkError(t *testing.T, err error, allowed map[codes.Code]bool) {
	t.Helper()
	var ce *codes.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *codes.Error", err, err)
	}
	// An undefined code is named "unknown_<number>" (but unknown_operation is
	// a defined code, so a prefix test is not enough).
	if _, defined := codes.FromName(ce.Code.Name()); !defined {
		t.Fatalf("error %v has an undefined code %d", err, int(ce.Code))
	}
	if !allowed[ce.Code] {
		t.Fatalf("error %v: a decoder must not return %s", err, ce.Code.Name())
	}
}

// storesDecodeCodes are the codes a lifecycle (stores.<op>) Decode function
// may return: the request names a store, so invalid_store_id too.
var storesDecodeCodes = map[codes.Code]bool{
	codes.MalformedRequest: true,
	codes.InvalidArgument:  true,
	codes.InvalidStoreID:   true,
	codes.RequestTooLarge:  true,
}

// fuzzDecode runs decode over data with each of the limits and checks the
// properties common to all decoders; valid checks an accepted request.
func fuzzDecode[R any](t *testing.T, data []byte, decode func([]byte, wire.Limits) (*R, int, error), valid func(*testing.T, *R, int, wire.Limits)) {
	fuzzDecodeCodes(t, decodeCodes, data, decode, valid)
}

// fuzzDecodeCodes is fuzzDecode for a decoder that may return the codes in allowed.
func fuzzDecodeCodes[R any](t *testing.T, allowed map[codes.Code]bool, data []byte, decode func([]byte, wire.Limits) (*R, int, error), valid func(*testing.T, *R, int, wire.Limits)) {
	orig := bytes.Clone(data)
	for _, l := range fuzzLimits {
		req, n, err := decode(data, l)
		if !bytes.Equal(data, orig) {
			t.Fatal("the decoder modified its input")
		}
		if err != nil {
			// Some decoders return a partly validated request along with
			// the error; callers must look at the error only.
			checkError(t, err, allowed)
			continue
		}
		if req == nil {
			t.Fatal("neither a request nor an error")
		}
		valid(t, req, n, l)

		// Round trip. The re-encoded request may be a little larger than
		// the input (normalised defaults become explicit), so the size
		// limit is not what is under test here.
		enc, err := wire.Marshal(req)
		if err != nil {
			t.Fatalf("Marshal of an accepted request: %v", err)
		}
		l2 := l
		l2.MaxRequestSize = 0
		req2, n2, err := decode(enc, l2)
		if err != nil {
			t.Fatalf("re-encoded request %x is rejected: %v\n(decoded from %x as %+v)", enc, err, data, req)
		}
		if !equalNormalized(req, req2) || n != n2 {
			t.Fatalf("round trip changed the request:\n %+v (%d)\n %+v (%d)", *req, n, *req2, n2)
		}
		if enc2, _ := wire.Marshal(req2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
		}
	}
}

// noCount adapts a decoder without an effective count to fuzzDecode.
func noCount[R any](decode func([]byte, wire.Limits) (*R, error)) func([]byte, wire.Limits) (*R, int, error) {
	return func(b []byte, l wire.Limits) (*R, int, error) {
		r, err := decode(b, l)
		return r, 0, err
	}
}

func FuzzDecodeAppend(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, noCount(wire.DecodeAppend), func(t *testing.T, r *wire.AppendRequest, _ int, l wire.Limits) {
			checkStream(t, r.Stream)
			checkExpected(t, r.ExpectedState, r.ExpectedRevision)
			if len(r.Events) < 1 || (l.MaxAppendEvents > 0 && len(r.Events) > l.MaxAppendEvents) {
				t.Fatalf("accepted %d events (limit %d)", len(r.Events), l.MaxAppendEvents)
			}
			ids := map[string]bool{}
			for i, ev := range r.Events {
				if ev.ID != "" {
					if !canonicalUUID.MatchString(ev.ID) {
						t.Fatalf("event %d: id %q is not a canonical lower-case UUID", i, ev.ID)
					}
					if ids[ev.ID] {
						t.Fatalf("event %d: id %s appears twice", i, ev.ID)
					}
					ids[ev.ID] = true
				}
				checkText(t, "type", ev.Type, 1, 256)
				checkText(t, "data_content_type", ev.DataContentType, 0, 128)
				checkText(t, "metadata_content_type", ev.MetadataContentType, 0, 128)
				size := len(ev.Type) + len(ev.Data) + len(ev.Metadata) + len(ev.DataContentType) + len(ev.MetadataContentType)
				if l.MaxEventSize > 0 && size > l.MaxEventSize {
					t.Fatalf("event %d: %d bytes accepted, limit %d", i, size, l.MaxEventSize)
				}
			}
		})
	})
}

func FuzzDecodeRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, wire.DecodeRead, func(t *testing.T, r *wire.ReadRequest, count int, l wire.Limits) {
			checkStream(t, r.Stream)
			checkDirection(t, r.Direction)
			checkFrom(t, "from_revision", r.FromRevision)
			checkCount(t, "max_count", r.MaxCount, count, min(100, l.MaxReadCount), l.MaxReadCount)
		})
	})
}

func FuzzDecodeReadAll(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, wire.DecodeReadAll, func(t *testing.T, r *wire.ReadAllRequest, count int, l wire.Limits) {
			checkDirection(t, r.Direction)
			checkFrom(t, "from_position", r.FromPosition)
			checkCount(t, "max_count", r.MaxCount, count, min(100, l.MaxReadCount), l.MaxReadCount)
			if fl := r.Filter; fl != nil {
				checkText(t, "filter.stream_prefix", fl.StreamPrefix, 0, 512)
				checkText(t, "filter.category", fl.Category, 0, 512)
				if len(fl.EventTypes) > 100 {
					t.Fatalf("filter.event_types has %d entries", len(fl.EventTypes))
				}
				for _, et := range fl.EventTypes {
					checkText(t, "filter.event_types[]", et, 1, 256)
				}
			}
		})
	})
}

func FuzzDecodeListStreams(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, wire.DecodeListStreams, func(t *testing.T, r *wire.ListStreamsRequest, limit int, _ wire.Limits) {
			checkText(t, "prefix", r.Prefix, 0, 512)
			checkText(t, "after", r.After, 0, 512)
			checkCount(t, "limit", r.Limit, limit, 100, 1000)
		})
	})
}

func FuzzDecodeStreamInfo(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, noCount(wire.DecodeStreamInfo), func(t *testing.T, r *wire.StreamInfoRequest, _ int, _ wire.Limits) {
			checkStream(t, r.Stream)
		})
	})
}

func FuzzDecodeDeleteStream(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, noCount(wire.DecodeDeleteStream), func(t *testing.T, r *wire.DeleteStreamRequest, _ int, _ wire.Limits) {
			checkStream(t, r.Stream)
			checkExpected(t, r.ExpectedState, r.ExpectedRevision)
		})
	})
}

func FuzzDecodeCreateStore(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, storesDecodeCodes, data, noCount(wire.DecodeCreateStore), func(t *testing.T, r *wire.CreateStoreRequest, _ int, _ wire.Limits) {
			checkStoreID(t, "store", r.Store)
			// The settings' values are checked by the registry, which
			// knows the cluster; the decoder only checks their shape.
		})
	})
}

func FuzzDecodeStoreRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, storesDecodeCodes, data, noCount(wire.DecodeStoreRequest), func(t *testing.T, r *wire.StoreRequest, _ int, _ wire.Limits) {
			checkStoreID(t, "store", r.Store)
		})
	})
}

func FuzzDecodeListStores(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecodeCodes(t, storesDecodeCodes, data, wire.DecodeListStores, func(t *testing.T, r *wire.ListStoresRequest, limit int, _ wire.Limits) {
			if r.After != "" {
				checkStoreID(t, "after", r.After)
			}
			checkCount(t, "limit", r.Limit, limit, 100, 1000)
		})
	})
}

// FuzzUnmarshalErrorReply: clients decode error bodies with wire.Unmarshal.
func FuzzUnmarshalErrorReply(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var er wire.ErrorReply
		err := wire.Unmarshal(data, &er)
		if !bytes.Equal(data, orig) {
			t.Fatal("Unmarshal modified its input")
		}
		if err != nil {
			checkError(t, err, unmarshalCodes)
			return
		}
		enc, err := wire.Marshal(er)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var er2 wire.ErrorReply
		if err := wire.Unmarshal(enc, &er2); err != nil {
			t.Fatalf("re-encoded reply %x is rejected: %v", enc, err)
		}
		if !equalNormalized(&er, &er2) {
			t.Fatalf("round trip changed the reply: %+v, then %+v", er, er2)
		}
	})
}

// ---- the contract, restated independently of validate.go ------------------

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkText: min..max bytes of valid UTF-8 without control characters.
func checkText(t *testing.T, field, s string, minLen, maxLen int) {
	t.Helper()
	if len(s) < minLen || len(s) > maxLen {
		t.Fatalf("%s: %d bytes accepted, want %d..%d", field, len(s), minLen, maxLen)
	}
	if !utf8.ValidString(s) {
		t.Fatalf("%s: %q is not valid UTF-8", field, s)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		t.Fatalf("%s: %q has a control character", field, s)
	}
}

var storeIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// checkStoreID: the store id pattern of schemas/README.md.
func checkStoreID(t *testing.T, field, id string) {
	t.Helper()
	if !storeIDPattern.MatchString(id) {
		t.Fatalf("%s: store id %q accepted", field, id)
	}
}

func checkStream(t *testing.T, s string) {
	t.Helper()
	checkText(t, "stream", s, 1, 512)
	if s[0] == '$' {
		t.Fatalf("reserved stream name %q accepted", s)
	}
}

// checkExpected: the state is normalised to one of the four, and exact goes
// with a revision in 0..2^63-2, the others without.
func checkExpected(t *testing.T, state string, rev *int64) {
	t.Helper()
	switch state {
	case wire.ExpectAny, wire.ExpectNoStream, wire.ExpectStreamExists:
		if rev != nil {
			t.Fatalf("expected_state %s with expected_revision %d accepted", state, *rev)
		}
	case wire.ExpectExact:
		if rev == nil || *rev < 0 || *rev > math.MaxInt64-1 {
			t.Fatalf("expected_state exact with expected_revision %v accepted", rev)
		}
	default:
		t.Fatalf("expected_state %q accepted (or not normalised)", state)
	}
}

func checkDirection(t *testing.T, d string) {
	t.Helper()
	if d != wire.Forward && d != wire.Backward {
		t.Fatalf("direction %q accepted (or not normalised)", d)
	}
}

func checkFrom(t *testing.T, field string, n *int64) {
	t.Helper()
	if n != nil && (*n < 0 || *n > math.MaxInt64-1) {
		t.Fatalf("%s %d accepted", field, *n)
	}
}

// checkCount: the effective count is the requested one, or def when absent,
// and lies in 1..max.
func checkCount(t *testing.T, field string, req *int64, got, def, max int) {
	t.Helper()
	want := def
	if req != nil {
		want = int(*req)
	}
	if got != want || got < 1 || got > max {
		t.Fatalf("%s %v gave an effective count of %d (default %d, max %d)", field, req, got, def, max)
	}
}

// equalNormalized compares two decoded messages, treating an empty slice and
// a nil one as equal: MessagePack's empty bin/array and an absent omitempty
// field mean the same thing.
func equalNormalized(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	normalize(va)
	normalize(vb)
	return reflect.DeepEqual(a, b)
}

func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	}
}

// ---- resource bounds: regression tests for two bugs found by review -------

// These two tests demonstrate problems in wire.Unmarshal that fuzzing with
// small inputs cannot reach (they need inputs of megabytes). Both were real
// bugs, fixed by the shape check in shape.go.

// TestDecodeBoundsNesting: the first pass of wire.Unmarshal (msgpack
// Decoder.Skip) recurses once per nesting level, without a limit. A 4 MiB
// request (the default max_request_size) of nested one-element arrays costs
// about 512 MiB of goroutine stack and seconds of CPU; with max_request_size
// above about 8 MiB it overflows the 1 GB stack limit, a fatal error that
// kills the process. No Logbook message nests deeper than 4 levels, so
// Unmarshal should reject deep nesting as malformed before recursing.
func TestDecodeBoundsNesting(t *testing.T) {
	data := []byte("\x81\xa6stream")
	data = append(data, bytes.Repeat([]byte{0x91}, 1<<20)...)
	data = append(data, 0xc0)
	_, err := wire.DecodeStreamInfo(data, wire.DefaultLimits())
	if !errors.Is(err, codes.ErrMalformedRequest) {
		t.Fatalf("1 MiB of nested arrays: got %v, want malformed_request without deep recursion", err)
	}
}

// TestDecodeBoundsAllocation: wire.Unmarshal decodes whole arrays before the
// Decode functions check their lengths, so `events: [nil, nil, ...]` (one
// byte per element) allocates a 112-byte EventData per byte of input, plus
// slice growth: about 900 MB for a 4 MiB append, which is then rejected as
// too_many_events. Fixed by the shape check: any array or map of more than
// 65,536 entries is malformed_request before anything is allocated.
func TestDecodeBoundsAllocation(t *testing.T) {
	n := 1 << 20
	data := []byte("\x82\xa6stream\xa1s\xa6events\xdd")
	data = append(data, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	data = append(data, bytes.Repeat([]byte{0xc0}, n)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := wire.DecodeAppend(data, wire.DefaultLimits())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, codes.ErrMalformedRequest) {
		t.Fatalf("got %v, want malformed_request", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*uint64(len(data)) {
		t.Fatalf("decoding a %d-byte request allocated %d MB", len(data), alloc>>20)
	}
}

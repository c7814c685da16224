package wire

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
)

// The Decode functions turn a request payload into a validated request. They
// are what gateways and storenodes call on untrusted bytes, and they are the
// fuzz targets: every input yields either a valid request or a *codes.Error.

// maxRevision bounds revisions and positions a client may name.
const maxRevision = math.MaxInt64 - 1

func checkSize(data []byte, l Limits) error {
	if len(data) > l.MaxRequestSize {
		return codes.New(codes.RequestTooLarge, "request is %d bytes, more than %d", len(data), l.MaxRequestSize)
	}
	return nil
}

// decodeStrict decodes a request strictly (see Unmarshal) after checking its
// size. The keys of nonEmpty list their values in the contract: holding the
// empty string, present anywhere in the request, they are refused, for ""
// is not one of their values and only leaving a key out selects its default.
func decodeStrict(data []byte, l Limits, v any, nonEmpty ...string) error {
	if err := checkSize(data, l.WithDefaults()); err != nil {
		return err
	}
	return unmarshal(data, v, true, nonEmpty)
}

// decode is the body of every Decode function: it decodes data into a new
// request (see decodeStrict) and returns it if check accepts it.
func decode[R any](data []byte, l Limits, check func(*R) error, nonEmpty ...string) (*R, error) {
	req := new(R)
	if err := decodeStrict(data, l, req, nonEmpty...); err != nil {
		return nil, err
	}
	if err := check(req); err != nil {
		return nil, err
	}
	return req, nil
}

// first returns the first error of the checks, which are all evaluated:
// a decoder lists its checks in the order their errors take precedence.
func first(checks ...error) error {
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// keyEventID is the key of an event's id; see emptyValue.
const keyEventID = "id"

// orDefault sets an absent field to its default. After decodeStrict, a
// field of nonEmpty that holds "" was absent: a present "" was refused.
func orDefault(field *string, def string) {
	if *field == "" {
		*field = def
	}
}

// appendNonEmpty are the keys of an append request that may not hold "".
var appendNonEmpty = []string{"expected_state", keyEventID}

// DecodeAppend decodes and validates an append request. It is the hot path,
// so it is written out rather than built on decode and first: the closure and
// the checks evaluated past a failing one cost about 4% of a one-event decode.
func DecodeAppend(data []byte, l Limits) (*AppendRequest, error) {
	l = l.WithDefaults()
	req := new(AppendRequest)
	// decodeStrict, without its second l.WithDefaults().
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	if err := unmarshal(data, req, true, appendNonEmpty); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateExpected(&req.ExpectedState, req.ExpectedRevision); err != nil {
		return nil, err
	}
	if err := validateEvents(req.Events, l); err != nil {
		return nil, err
	}
	return req, nil
}

// validateEvents checks the events of an append and puts their ids in
// canonical form.
func validateEvents(events []EventData, l Limits) error {
	if len(events) == 0 {
		return codes.New(codes.EmptyAppend, "an append needs at least one event")
	}
	if len(events) > l.MaxAppendEvents {
		return codes.New(codes.TooManyEvents, "append has %d events, more than %d", len(events), l.MaxAppendEvents)
	}
	seen := make(map[string]int, len(events))
	for i := range events {
		ev := &events[i]
		if ev.ID != "" { // "": absent, the server chooses one
			u, err := ParseEventID(ev.ID)
			if err != nil {
				return err
			}
			ev.ID = u.String() // canonical lower case
			if j, dup := seen[ev.ID]; dup {
				return codes.New(codes.InvalidEventID, "events %d and %d have the same id %s", j, i, ev.ID)
			}
			seen[ev.ID] = i
		}
		if err := ValidateEventType(ev.Type); err != nil {
			return err
		}
		if err := validatePayload(ev.Type, ev.Data, ev.DataContentType, ev.Metadata, ev.MetadataContentType, l); err != nil {
			return within(err, "event %d", i)
		}
	}
	return nil
}

// validatePayload checks the content types of an event or a snapshot and
// bounds its size (type + data + metadata + content types) by max_event_size.
func validatePayload(typ string, data []byte, dataType string, metadata []byte, metadataType string, l Limits) error {
	if len(dataType) > MaxContentTypeLen || len(metadataType) > MaxContentTypeLen {
		return invalid("content type longer than %d bytes", MaxContentTypeLen)
	}
	if checkText(dataType) != "" || checkText(metadataType) != "" {
		return invalid("content type must be UTF-8 without control characters")
	}
	if size := len(typ) + len(data) + len(metadata) + len(dataType) + len(metadataType); size > l.MaxEventSize {
		return codes.New(codes.EventTooLarge, "%d bytes, more than max_event_size %d", size, l.MaxEventSize)
	}
	return nil
}

// within says where a *codes.Error happened: its message gets the prefix
// what (a format). A nil error stays nil.
func within(err error, what string, args ...any) error {
	e := codes.As(err)
	if e == nil {
		return err
	}
	return &codes.Error{Code: e.Code, Message: fmt.Sprintf(what, args...) + ": " + e.Message, CurrentRevision: e.CurrentRevision}
}

// expectedStates are the values of expected_state; the first is the default.
var expectedStates = []string{ExpectAny, ExpectNoStream, ExpectStreamExists, ExpectExact}

// validateExpected normalises an expected state (absent becomes "any", or
// "exact" when a revision is given) and checks that it agrees with the revision.
func validateExpected(state *string, rev *int64) error {
	return validatePaired("expected_state", state, expectedStates, ExpectExact, "expected_revision", rev)
}

func validateDirection(d *string) error {
	return validateOneOf("direction", d, Forward, Forward, Backward)
}

// validateOneOf sets an absent field to def and checks that it holds one of
// values.
func validateOneOf(field string, v *string, def string, values ...string) error {
	orDefault(v, def)
	if !slices.Contains(values, *v) {
		return invalid("%s %q is not one of %s", field, Truncate(*v), strings.Join(values, ", "))
	}
	return nil
}

// validatePaired checks a field of values (the first is the default) one of
// which, paired, goes with the number field nField: paired needs it, the
// others refuse it, and an absent field is paired when the number is given.
func validatePaired(field string, v *string, values []string, paired, nField string, n *int64) error {
	if n != nil {
		orDefault(v, paired)
	}
	if err := validateOneOf(field, v, values[0], values...); err != nil {
		return err
	}
	switch {
	case *v == paired && n == nil:
		return invalid("%s %q needs %s", field, paired, nField)
	case *v != paired && n != nil:
		return invalid("%s goes only with %s %q", nField, field, paired)
	}
	return validateFrom(nField, n)
}

// validateRange checks an optional number: absent, or lo..hi.
func validateRange(field string, n *int64, lo, hi int64) error {
	if n != nil && (*n < lo || *n > hi) {
		return invalid("%s %d is out of range %d..%d", field, *n, lo, hi)
	}
	return nil
}

// validateCount checks a count a client may give (1..max) and sets out to
// it, or to def when it is absent.
func validateCount(field string, n *int64, def, max int, out *int) error {
	*out = int(valueOr(n, int64(def)))
	return validateRange(field, n, 1, int64(max))
}

// validateFrom checks a revision, position or version a client names:
// 0..2^63-2.
func validateFrom(field string, n *int64) error {
	return validateRange(field, n, 0, maxRevision)
}

// valueOr returns *n, or def when n is absent.
func valueOr(n *int64, def int64) int64 {
	if n == nil {
		return def
	}
	return *n
}

// validateText checks an optional text field: UTF-8 without control
// characters, up to max bytes.
func validateText(field, s string, max int) error {
	if len(s) > max || checkText(s) != "" {
		return invalid("%s must be UTF-8 text up to %d bytes", field, max)
	}
	return nil
}

// DecodeRead decodes and validates a stream read; count is the effective max count.
func DecodeRead(data []byte, l Limits) (req *ReadRequest, count int, err error) {
	l = l.WithDefaults()
	req, err = decode(data, l, func(r *ReadRequest) error {
		return first(ValidateStream(r.Stream), validateDirection(&r.Direction), validateFrom("from_revision", r.FromRevision),
			validateCount("max_count", r.MaxCount, min(DefaultReadCount, l.MaxReadCount), l.MaxReadCount, &count))
	}, "direction")
	return req, count, err
}

// DecodeReadAll decodes and validates a $all read; count is the effective max count.
func DecodeReadAll(data []byte, l Limits) (req *ReadAllRequest, count int, err error) {
	l = l.WithDefaults()
	req, err = decode(data, l, func(r *ReadAllRequest) error {
		return first(validateDirection(&r.Direction), validateFrom("from_position", r.FromPosition), validateFilter(r.Filter),
			validateCount("max_count", r.MaxCount, min(DefaultReadCount, l.MaxReadCount), l.MaxReadCount, &count))
	}, "direction")
	return req, count, err
}

// validateFilter checks the filter of a $all read.
func validateFilter(f *Filter) error {
	if f == nil {
		return nil
	}
	return first(validateText("filter.stream_prefix", f.StreamPrefix, MaxStreamLen), validateText("filter.category", f.Category, MaxStreamLen),
		validateEventTypes("filter.event_types", f.EventTypes))
}

// validateEventTypes checks the event types of a filter: at most 100.
func validateEventTypes(field string, types []string) error {
	if len(types) > 100 {
		return invalid("%s has %d entries, more than 100", field, len(types))
	}
	for _, t := range types {
		if err := ValidateEventType(t); err != nil {
			return err
		}
	}
	return nil
}

// DecodeListStreams decodes and validates a list_streams request; limit is the effective page size.
func DecodeListStreams(data []byte, l Limits) (req *ListStreamsRequest, limit int, err error) {
	req, err = decode(data, l, func(r *ListStreamsRequest) error {
		return first(validateText("prefix", r.Prefix, MaxStreamLen), validateText("after", r.After, MaxStreamLen),
			validateCount("limit", r.Limit, DefaultListLimit, MaxListLimit, &limit))
	})
	return req, limit, err
}

// DecodeStreamInfo decodes and validates a stream_info request.
func DecodeStreamInfo(data []byte, l Limits) (*StreamInfoRequest, error) {
	return decode(data, l, func(r *StreamInfoRequest) error { return ValidateStream(r.Stream) })
}

// DecodeDeleteStream decodes and validates a delete_stream request.
func DecodeDeleteStream(data []byte, l Limits) (*DeleteStreamRequest, error) {
	return decode(data, l, func(r *DeleteStreamRequest) error {
		return first(ValidateStream(r.Stream), validateExpected(&r.ExpectedState, r.ExpectedRevision))
	}, "expected_state")
}

// DecodeCreateStore decodes and validates a stores.create request. The
// settings' ranges are checked by the registry, which knows the cluster.
func DecodeCreateStore(data []byte, l Limits) (*CreateStoreRequest, error) {
	return decode(data, l, func(r *CreateStoreRequest) error { return ValidateStoreID(r.Store) })
}

// DecodeSetQuota decodes and validates a stores.set_quota request.
func DecodeSetQuota(data []byte, l Limits) (*SetQuotaRequest, error) {
	return decode(data, l, func(r *SetQuotaRequest) error {
		if err := ValidateStoreID(r.Store); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			v    *int64
		}{{"max_events", r.MaxEvents}, {"max_bytes", r.MaxBytes}} {
			if f.v != nil && *f.v < 0 {
				return invalid("%s must not be negative", f.name)
			}
		}
		if r.MaxEvents == nil && r.MaxBytes == nil {
			return invalid("set max_events, max_bytes or both")
		}
		return nil
	})
}

// DecodeStoreRequest decodes a request naming one store (remove, status, config).
func DecodeStoreRequest(data []byte, l Limits) (*StoreRequest, error) {
	return decode(data, l, func(r *StoreRequest) error { return ValidateStoreID(r.Store) })
}

// DecodeListStores decodes a stores.list request; limit is the page size.
func DecodeListStores(data []byte, l Limits) (req *ListStoresRequest, limit int, err error) {
	req, err = decode(data, l, func(r *ListStoresRequest) error {
		var after error
		if r.After != "" {
			if err := ValidateStoreID(r.After); err != nil {
				after = invalid("after: %v", err)
			}
		}
		return first(after, validateCount("limit", r.Limit, DefaultListLimit, MaxListLimit, &limit))
	})
	return req, limit, err
}

// DecodeStoresRequest decodes and validates the request of any lifecycle operation.
func DecodeStoresRequest(op string, data []byte, l Limits) error {
	var err error
	switch op {
	case "create":
		_, err = DecodeCreateStore(data, l)
	case "set_quota":
		_, err = DecodeSetQuota(data, l)
	case "remove", "status", "config":
		_, err = DecodeStoreRequest(data, l)
	case "list":
		_, _, err = DecodeListStores(data, l)
	default:
		err = codes.New(codes.UnknownOperation, "unknown store operation %q", Truncate(op))
	}
	return err
}

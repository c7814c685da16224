package wire

import (
	"math"

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

// keyEventID is the key of an event's id; see emptyValue.
const keyEventID = "id"

// orDefault sets an absent field to its default. After decodeStrict, a
// field of nonEmpty that holds "" was absent: a present "" was refused.
func orDefault(field *string, def string) {
	if *field == "" {
		*field = def
	}
}

// DecodeAppend decodes and validates an append request.
func DecodeAppend(data []byte, l Limits) (*AppendRequest, error) {
	l = l.WithDefaults()
	var req AppendRequest
	if err := decodeStrict(data, l, &req, "expected_state", keyEventID); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateExpected(&req.ExpectedState, req.ExpectedRevision); err != nil {
		return nil, err
	}
	if len(req.Events) == 0 {
		return nil, codes.New(codes.EmptyAppend, "an append needs at least one event")
	}
	if len(req.Events) > l.MaxAppendEvents {
		return nil, codes.New(codes.TooManyEvents, "append has %d events, more than %d", len(req.Events), l.MaxAppendEvents)
	}
	seen := make(map[string]int, len(req.Events))
	for i := range req.Events {
		ev := &req.Events[i]
		if ev.ID != "" { // "": absent, the server chooses one
			u, err := ParseEventID(ev.ID)
			if err != nil {
				return nil, err
			}
			ev.ID = u.String() // canonical lower case
			if j, dup := seen[ev.ID]; dup {
				return nil, codes.New(codes.InvalidEventID, "events %d and %d have the same id %s", j, i, ev.ID)
			}
			seen[ev.ID] = i
		}
		if err := ValidateEventType(ev.Type); err != nil {
			return nil, err
		}
		if len(ev.DataContentType) > MaxContentTypeLen || len(ev.MetadataContentType) > MaxContentTypeLen {
			return nil, invalid("event %d: content type longer than %d bytes", i, MaxContentTypeLen)
		}
		if checkText(ev.DataContentType) != "" || checkText(ev.MetadataContentType) != "" {
			return nil, invalid("event %d: content type must be UTF-8 without control characters", i)
		}
		size := len(ev.Type) + len(ev.Data) + len(ev.Metadata) + len(ev.DataContentType) + len(ev.MetadataContentType)
		if size > l.MaxEventSize {
			return nil, codes.New(codes.EventTooLarge, "event %d is %d bytes, more than %d", i, size, l.MaxEventSize)
		}
	}
	return &req, nil
}

// validateExpected normalises an expected state (absent becomes "any", or
// "exact" when a revision is given) and checks that it agrees with the revision.
func validateExpected(state *string, rev *int64) error {
	if rev != nil {
		orDefault(state, ExpectExact)
	}
	orDefault(state, ExpectAny)
	switch *state {
	case ExpectAny, ExpectNoStream, ExpectStreamExists:
		if rev != nil {
			return invalid("expected_revision goes only with expected_state %q", ExpectExact)
		}
	case ExpectExact:
		if rev == nil {
			return invalid("expected_state %q needs expected_revision", ExpectExact)
		}
	default:
		return invalid("expected_state %q is not one of any, no_stream, stream_exists, exact", Truncate(*state))
	}
	if rev != nil && (*rev < 0 || *rev > maxRevision) {
		return invalid("expected_revision %d is out of range", *rev)
	}
	return nil
}

func validateDirection(d *string) error {
	orDefault(d, Forward)
	switch *d {
	case Forward, Backward:
	default:
		return invalid("direction %q is not forward or backward", Truncate(*d))
	}
	return nil
}

func validateCount(field string, n *int64, def, max int) (int, error) {
	if n == nil {
		return def, nil
	}
	if *n < 1 || *n > int64(max) {
		return 0, invalid("%s %d is out of range 1..%d", field, *n, max)
	}
	return int(*n), nil
}

func validateFrom(field string, n *int64) error {
	if n != nil && (*n < 0 || *n > maxRevision) {
		return invalid("%s %d is out of range", field, *n)
	}
	return nil
}

// DecodeRead decodes and validates a stream read; count is the effective max count.
func DecodeRead(data []byte, l Limits) (req *ReadRequest, count int, err error) {
	l = l.WithDefaults()
	req = new(ReadRequest)
	if err := decodeStrict(data, l, req, "direction"); err != nil {
		return nil, 0, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, 0, err
	}
	if err := validateDirection(&req.Direction); err != nil {
		return nil, 0, err
	}
	if err := validateFrom("from_revision", req.FromRevision); err != nil {
		return nil, 0, err
	}
	if count, err = validateCount("max_count", req.MaxCount, min(DefaultReadCount, l.MaxReadCount), l.MaxReadCount); err != nil {
		return nil, 0, err
	}
	return req, count, nil
}

// DecodeReadAll decodes and validates a $all read; count is the effective max count.
func DecodeReadAll(data []byte, l Limits) (req *ReadAllRequest, count int, err error) {
	l = l.WithDefaults()
	req = new(ReadAllRequest)
	if err := decodeStrict(data, l, req, "direction"); err != nil {
		return nil, 0, err
	}
	if err := validateDirection(&req.Direction); err != nil {
		return nil, 0, err
	}
	if err := validateFrom("from_position", req.FromPosition); err != nil {
		return nil, 0, err
	}
	if f := req.Filter; f != nil {
		if len(f.StreamPrefix) > MaxStreamLen || checkText(f.StreamPrefix) != "" {
			return nil, 0, invalid("filter.stream_prefix must be UTF-8 text up to %d bytes", MaxStreamLen)
		}
		if len(f.Category) > MaxStreamLen || checkText(f.Category) != "" {
			return nil, 0, invalid("filter.category must be UTF-8 text up to %d bytes", MaxStreamLen)
		}
		if len(f.EventTypes) > 100 {
			return nil, 0, invalid("filter.event_types has %d entries, more than 100", len(f.EventTypes))
		}
		for _, t := range f.EventTypes {
			if err := ValidateEventType(t); err != nil {
				return nil, 0, err
			}
		}
	}
	if count, err = validateCount("max_count", req.MaxCount, min(DefaultReadCount, l.MaxReadCount), l.MaxReadCount); err != nil {
		return nil, 0, err
	}
	return req, count, nil
}

// DecodeListStreams decodes and validates a list_streams request; limit is the effective page size.
func DecodeListStreams(data []byte, l Limits) (req *ListStreamsRequest, limit int, err error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, 0, err
	}
	req = new(ListStreamsRequest)
	if err := Unmarshal(data, req); err != nil {
		return nil, 0, err
	}
	if len(req.Prefix) > MaxStreamLen || checkText(req.Prefix) != "" {
		return nil, 0, invalid("prefix must be UTF-8 text up to %d bytes", MaxStreamLen)
	}
	if len(req.After) > MaxStreamLen || checkText(req.After) != "" {
		return nil, 0, invalid("after must be UTF-8 text up to %d bytes", MaxStreamLen)
	}
	if limit, err = validateCount("limit", req.Limit, DefaultListLimit, MaxListLimit); err != nil {
		return nil, 0, err
	}
	return req, limit, nil
}

// DecodeStreamInfo decodes and validates a stream_info request.
func DecodeStreamInfo(data []byte, l Limits) (*StreamInfoRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req StreamInfoRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeDeleteStream decodes and validates a delete_stream request.
func DecodeDeleteStream(data []byte, l Limits) (*DeleteStreamRequest, error) {
	var req DeleteStreamRequest
	if err := decodeStrict(data, l, &req, "expected_state"); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateExpected(&req.ExpectedState, req.ExpectedRevision); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeCreateStore decodes and validates a stores.create request. The
// settings' ranges are checked by the registry, which knows the cluster.
func DecodeCreateStore(data []byte, l Limits) (*CreateStoreRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req CreateStoreRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStoreID(req.Store); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeStoreRequest decodes a request naming one store (remove, status, config).
func DecodeStoreRequest(data []byte, l Limits) (*StoreRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req StoreRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStoreID(req.Store); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeListStores decodes a stores.list request; limit is the page size.
func DecodeListStores(data []byte, l Limits) (req *ListStoresRequest, limit int, err error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, 0, err
	}
	req = new(ListStoresRequest)
	if err := Unmarshal(data, req); err != nil {
		return nil, 0, err
	}
	if req.After != "" {
		if err := ValidateStoreID(req.After); err != nil {
			return nil, 0, invalid("after: %v", err)
		}
	}
	if limit, err = validateCount("limit", req.Limit, DefaultListLimit, MaxListLimit); err != nil {
		return nil, 0, err
	}
	return req, limit, nil
}

// DecodeStoresRequest decodes and validates the request of any lifecycle operation.
func DecodeStoresRequest(op string, data []byte, l Limits) error {
	var err error
	switch op {
	case "create":
		_, err = DecodeCreateStore(data, l)
	case "remove", "status", "config":
		_, err = DecodeStoreRequest(data, l)
	case "list":
		_, _, err = DecodeListStores(data, l)
	default:
		err = codes.New(codes.UnknownOperation, "unknown store operation %q", Truncate(op))
	}
	return err
}

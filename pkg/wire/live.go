package wire

import (
	"strconv"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/nats-io/nats.go"
)

// Headers of a live event (subject events.<store>.<category>.<stream>.<type>,
// body: the RecordedEvent). See schemas/live-events.md.
const (
	// HeaderPosition is the event's position in the store.
	HeaderPosition = "Lb-Position"
	// HeaderRevision is the event's revision in its stream.
	HeaderRevision = "Lb-Revision"
	// HeaderEpoch identifies the publisher: a random id drawn each time a
	// node starts publishing a store (when it gains leadership). A change
	// means another publisher, which may have missed events.
	HeaderEpoch = "Lb-Epoch"
	// HeaderEpochStart is the first position the epoch publishes: every
	// event from there on is published by this epoch, in position order.
	HeaderEpochStart = "Lb-Epoch-Start"
	// HeaderPrevCategory is the position of the previous event of the same
	// category published in this epoch; absent when there is none (no event
	// of the category between the epoch's start and this one).
	HeaderPrevCategory = "Lb-Prev-Category"
	// HeaderPrevType is the same for the event type.
	HeaderPrevType = "Lb-Prev-Type"
)

// maxEpochLen bounds the epoch id (the publisher sends 16 hex digits).
const maxEpochLen = 64

// LiveHeaders are the headers of a live event. Within an epoch, positions
// are published densely (p follows p-1) and a stream's revisions follow
// each other, so the previous position on the store and the previous
// revision of the stream are implied; the previous positions of the same
// category and type are carried explicitly.
type LiveHeaders struct {
	Position   uint64
	Revision   uint64
	Epoch      string
	EpochStart uint64
	// PrevCategory and PrevType are nil when no event of this category
	// (type) was published in this epoch before this one.
	PrevCategory *uint64
	PrevType     *uint64
}

// Header encodes h as NATS headers.
func (h *LiveHeaders) Header() nats.Header {
	hd := make(nats.Header, 6)
	hd[HeaderPosition] = []string{strconv.FormatUint(h.Position, 10)}
	hd[HeaderRevision] = []string{strconv.FormatUint(h.Revision, 10)}
	hd[HeaderEpoch] = []string{h.Epoch}
	hd[HeaderEpochStart] = []string{strconv.FormatUint(h.EpochStart, 10)}
	if h.PrevCategory != nil {
		hd[HeaderPrevCategory] = []string{strconv.FormatUint(*h.PrevCategory, 10)}
	}
	if h.PrevType != nil {
		hd[HeaderPrevType] = []string{strconv.FormatUint(*h.PrevType, 10)}
	}
	return hd
}

// ParseLiveHeaders decodes and checks the headers of a live event. Missing
// or malformed headers, and values that contradict each other (a previous
// position at or after the event's, or before the epoch's start), are
// malformed_request errors.
func ParseLiveHeaders(hd nats.Header) (*LiveHeaders, error) {
	var h LiveHeaders
	var err error
	if h.Position, err = headerUint(hd, HeaderPosition); err != nil {
		return nil, err
	}
	if h.Revision, err = headerUint(hd, HeaderRevision); err != nil {
		return nil, err
	}
	if h.EpochStart, err = headerUint(hd, HeaderEpochStart); err != nil {
		return nil, err
	}
	ep := hd.Values(HeaderEpoch)
	if len(ep) != 1 || ep[0] == "" || len(ep[0]) > maxEpochLen {
		return nil, codes.New(codes.MalformedRequest, "live event: header %s must hold one id of 1 to %d characters", HeaderEpoch, maxEpochLen)
	}
	for i := 0; i < len(ep[0]); i++ {
		if c := ep[0][i]; c <= 0x20 || c >= 0x7f {
			return nil, codes.New(codes.MalformedRequest, "live event: header %s holds the byte 0x%02x", HeaderEpoch, c)
		}
	}
	h.Epoch = ep[0]
	if h.EpochStart > h.Position {
		return nil, codes.New(codes.MalformedRequest, "live event: %s %d is after %s %d", HeaderEpochStart, h.EpochStart, HeaderPosition, h.Position)
	}
	if h.PrevCategory, err = prevHeader(hd, HeaderPrevCategory, &h); err != nil {
		return nil, err
	}
	if h.PrevType, err = prevHeader(hd, HeaderPrevType, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

func headerUint(hd nats.Header, name string) (uint64, error) {
	vs := hd.Values(name)
	if len(vs) != 1 {
		return 0, codes.New(codes.MalformedRequest, "live event: want exactly one %s header, have %d", name, len(vs))
	}
	v, err := strconv.ParseUint(vs[0], 10, 64)
	if err != nil || (len(vs[0]) > 1 && vs[0][0] == '0') {
		return 0, codes.New(codes.MalformedRequest, "live event: header %s is not a decimal integer: %q", name, Truncate(vs[0]))
	}
	return v, nil
}

func prevHeader(hd nats.Header, name string, h *LiveHeaders) (*uint64, error) {
	if len(hd.Values(name)) == 0 {
		return nil, nil
	}
	v, err := headerUint(hd, name)
	if err != nil {
		return nil, err
	}
	if v >= h.Position || v < h.EpochStart {
		return nil, codes.New(codes.MalformedRequest, "live event: %s %d is outside [%s %d, %s %d)", name, v, HeaderEpochStart, h.EpochStart, HeaderPosition, h.Position)
	}
	return &v, nil
}

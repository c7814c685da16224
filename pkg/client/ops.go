package client

import (
	"context"

	"github.com/google/uuid"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Reply types, named for the client's users.
type (
	AppendResult  = wire.AppendReply
	RecordedEvent = wire.RecordedEvent
	StreamPage    = wire.ReadReply
	AllPage       = wire.ReadAllReply
	StreamInfo    = wire.StreamInfo
	StreamList    = wire.ListStreamsReply
	DeleteResult  = wire.DeleteStreamReply
	Filter        = wire.Filter
)

// Event is an event to append. An empty ID is filled with a new random UUID
// before the first attempt, so that retries are idempotent.
type Event struct {
	ID                  string
	Type                string
	Data                []byte
	DataContentType     string
	Metadata            []byte
	MetadataContentType string
}

// ExpectedRevision is the optimistic-concurrency check of an append or delete.
type ExpectedRevision struct {
	state string
	rev   int64
}

var (
	// Any appends whatever the stream's state.
	Any = ExpectedRevision{state: wire.ExpectAny}
	// NoStream requires that the stream does not exist yet.
	NoStream = ExpectedRevision{state: wire.ExpectNoStream}
	// StreamExists requires that the stream has at least one event.
	StreamExists = ExpectedRevision{state: wire.ExpectStreamExists}
)

// Exact requires that the stream's last revision is rev.
func Exact(rev uint64) ExpectedRevision {
	return ExpectedRevision{state: wire.ExpectExact, rev: int64(rev)}
}

func (e ExpectedRevision) fields() (string, *int64) {
	if e.state == "" {
		return wire.ExpectAny, nil
	}
	if e.state == wire.ExpectExact {
		r := e.rev
		return e.state, &r
	}
	return e.state, nil
}

// Append appends events to stream atomically, checking expected.
func (s *Store) Append(ctx context.Context, stream string, expected ExpectedRevision, events ...Event) (*AppendResult, error) {
	req := wire.AppendRequest{Stream: stream, Events: make([]wire.EventData, len(events))}
	req.ExpectedState, req.ExpectedRevision = expected.fields()
	for i, ev := range events {
		id := ev.ID
		if id == "" {
			id = uuid.NewString()
		}
		req.Events[i] = wire.EventData{
			ID: id, Type: ev.Type, Data: ev.Data, DataContentType: ev.DataContentType,
			Metadata: ev.Metadata, MetadataContentType: ev.MetadataContentType,
		}
	}
	var out AppendResult
	return &out, s.request(ctx, subjects.OpAppend, &req, &out)
}

// Direction of a read.
type Direction string

const (
	Forward  Direction = wire.Forward
	Backward Direction = wire.Backward
)

// ReadOptions select a page of a stream. The zero value reads forward from
// revision 0; Backward without From reads from the end.
type ReadOptions struct {
	Direction Direction
	From      *uint64 // first revision returned; nil: start (forward) or end (backward)
	MaxCount  int     // 0: the server's default (100)
}

// Revision is a helper for ReadOptions.From.
func Revision(r uint64) *uint64 { return &r }

// Read reads one page of a stream.
func (s *Store) Read(ctx context.Context, stream string, o ReadOptions) (*StreamPage, error) {
	req := wire.ReadRequest{Stream: stream, Direction: string(o.Direction), FromRevision: i64p(o.From), MaxCount: count(o.MaxCount)}
	var out StreamPage
	return &out, s.request(ctx, subjects.OpRead, &req, &out)
}

// ReadAllOptions select a page of $all.
type ReadAllOptions struct {
	Direction Direction
	From      *uint64 // first position considered; nil: start (forward) or end (backward)
	MaxCount  int
	Filter    *Filter
}

// ReadAll reads one page of the whole store in position order.
func (s *Store) ReadAll(ctx context.Context, o ReadAllOptions) (*AllPage, error) {
	req := wire.ReadAllRequest{Direction: string(o.Direction), FromPosition: i64p(o.From), MaxCount: count(o.MaxCount), Filter: o.Filter}
	var out AllPage
	return &out, s.request(ctx, subjects.OpReadAll, &req, &out)
}

// readAllPage is ReadAll with the page's events left encoded
// (wire.ReadAllPage), for a subscription that decodes one page while the
// next is read.
func (s *Store) readAllPage(ctx context.Context, o ReadAllOptions) (*wire.ReadAllPage, error) {
	req := wire.ReadAllRequest{Direction: string(o.Direction), FromPosition: i64p(o.From), MaxCount: count(o.MaxCount), Filter: o.Filter}
	var out wire.ReadAllPage
	return &out, s.request(ctx, subjects.OpReadAll, &req, &out)
}

// ListOptions select a page of stream names.
type ListOptions struct {
	Prefix string
	After  string // the Next of the previous page
	Limit  int
}

// ListStreams lists streams in byte order of their names.
func (s *Store) ListStreams(ctx context.Context, o ListOptions) (*StreamList, error) {
	req := wire.ListStreamsRequest{Prefix: o.Prefix, After: o.After, Limit: count(o.Limit)}
	var out StreamList
	return &out, s.request(ctx, subjects.OpListStreams, &req, &out)
}

// StreamInfo describes one stream.
func (s *Store) StreamInfo(ctx context.Context, stream string) (*StreamInfo, error) {
	var out StreamInfo
	return &out, s.request(ctx, subjects.OpStreamInfo, &wire.StreamInfoRequest{Stream: stream}, &out)
}

// DeleteStream deletes a stream for good; see wire.DeleteStreamRequest.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected ExpectedRevision) (*DeleteResult, error) {
	req := wire.DeleteStreamRequest{Stream: stream}
	req.ExpectedState, req.ExpectedRevision = expected.fields()
	var out DeleteResult
	return &out, s.request(ctx, subjects.OpDeleteStream, &req, &out)
}

func i64p(v *uint64) *int64 {
	if v == nil {
		return nil
	}
	r := int64(*v)
	return &r
}

func count(n int) *int64 {
	if n == 0 {
		return nil
	}
	r := int64(n)
	return &r
}

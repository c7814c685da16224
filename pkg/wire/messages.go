package wire

// Expected states of an append or a delete: checked inside the replicated
// command, so two writers can never both pass the same check.
const (
	ExpectAny          = "any"           // no check (the default)
	ExpectNoStream     = "no_stream"     // the stream must not exist yet
	ExpectStreamExists = "stream_exists" // the stream must have at least one event
	ExpectExact        = "exact"         // the stream's last revision must equal expected_revision
)

// Read directions.
const (
	Forward  = "forward" // the default
	Backward = "backward"
)

// EventData is one event as the client proposes it.
type EventData struct {
	// ID is a UUID in canonical 8-4-4-4-12 form. Optional: the server
	// generates one when absent, but only client-supplied ids make a retry
	// idempotent.
	ID                  string `msgpack:"id,omitempty"`
	Type                string `msgpack:"type"`
	Data                []byte `msgpack:"data,omitempty"`
	DataContentType     string `msgpack:"data_content_type,omitempty"`
	Metadata            []byte `msgpack:"metadata,omitempty"`
	MetadataContentType string `msgpack:"metadata_content_type,omitempty"`
}

// AppendRequest appends events to one stream, atomically. Subject: store.<store>.append
type AppendRequest struct {
	Stream           string      `msgpack:"stream"`
	ExpectedState    string      `msgpack:"expected_state,omitempty"`
	ExpectedRevision *int64      `msgpack:"expected_revision,omitempty"`
	Events           []EventData `msgpack:"events"`
}

// AppendReply reports where the events were written.
type AppendReply struct {
	FirstRevision uint64 `msgpack:"first_revision"`
	LastRevision  uint64 `msgpack:"last_revision"`
	FirstPosition uint64 `msgpack:"first_position"`
	LastPosition  uint64 `msgpack:"last_position"`
	Timestamp     int64  `msgpack:"timestamp"`
	// Duplicate is true when every event id had been written before by this
	// same append: nothing was written and the original result is returned.
	Duplicate bool `msgpack:"duplicate,omitempty"`
	// EventIDs lists the ids of the written events, in order, when the server
	// generated any of them.
	EventIDs []string `msgpack:"event_ids,omitempty"`
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID                  string `msgpack:"id"`
	Stream              string `msgpack:"stream"`
	Type                string `msgpack:"type"`
	Revision            uint64 `msgpack:"revision"`
	Position            uint64 `msgpack:"position"`
	Timestamp           int64  `msgpack:"timestamp"`
	Data                []byte `msgpack:"data"`
	DataContentType     string `msgpack:"data_content_type"`
	Metadata            []byte `msgpack:"metadata"`
	MetadataContentType string `msgpack:"metadata_content_type"`
}

// ReadRequest reads one stream. Subject: store.<store>.read
type ReadRequest struct {
	Stream    string `msgpack:"stream"`
	Direction string `msgpack:"direction,omitempty"`
	// FromRevision is the first revision returned (inclusive). Absent:
	// the start of the stream going forward, its end going backward.
	FromRevision *int64 `msgpack:"from_revision,omitempty"`
	MaxCount     *int64 `msgpack:"max_count,omitempty"`
}

// ReadReply is one page of a stream.
type ReadReply struct {
	Events []RecordedEvent `msgpack:"events"`
	// NextRevision is where the next page starts (pass it as from_revision).
	NextRevision uint64 `msgpack:"next_revision"`
	// EndOfStream is true when this page reaches the end in its direction:
	// the stream's last event (forward) or revision 0 (backward).
	EndOfStream bool `msgpack:"end_of_stream"`
	// LastRevision is the stream's last revision when it was read.
	LastRevision uint64 `msgpack:"last_revision"`
}

// Filter selects events of $all. Empty fields select everything.
type Filter struct {
	StreamPrefix string   `msgpack:"stream_prefix,omitempty"`
	Category     string   `msgpack:"category,omitempty"`
	EventTypes   []string `msgpack:"event_types,omitempty"`
}

// ReadAllRequest reads the whole store in position order. Subject: store.<store>.read_all
type ReadAllRequest struct {
	Direction string `msgpack:"direction,omitempty"`
	// FromPosition is the first position considered (inclusive). Absent: the
	// start of the store going forward, its end going backward.
	FromPosition *int64  `msgpack:"from_position,omitempty"`
	MaxCount     *int64  `msgpack:"max_count,omitempty"`
	Filter       *Filter `msgpack:"filter,omitempty"`
}

// ReadAllReply is one page of $all. With a filter, a page may hold fewer
// events than asked (even none) while EndOfStore is false: the server scans a
// bounded number of events per request; continue from NextPosition.
type ReadAllReply struct {
	Events       []RecordedEvent `msgpack:"events"`
	NextPosition uint64          `msgpack:"next_position"`
	EndOfStore   bool            `msgpack:"end_of_store"`
}

// ListStreamsRequest pages through stream names in byte order.
// Subject: store.<store>.list_streams
type ListStreamsRequest struct {
	Prefix string `msgpack:"prefix,omitempty"`
	After  string `msgpack:"after,omitempty"` // exclusive cursor: the last name of the previous page
	Limit  *int64 `msgpack:"limit,omitempty"`
}

// ListStreamsReply is one page of streams. Next is empty on the last page.
type ListStreamsReply struct {
	Streams []StreamInfo `msgpack:"streams"`
	Next    string       `msgpack:"next,omitempty"`
}

// StreamInfoRequest asks for one stream's info. Subject: store.<store>.stream_info
type StreamInfoRequest struct {
	Stream string `msgpack:"stream"`
}

// StreamInfo describes a stream.
type StreamInfo struct {
	Stream        string `msgpack:"stream"`
	LastRevision  uint64 `msgpack:"last_revision"`
	EventCount    uint64 `msgpack:"event_count"`
	FirstPosition uint64 `msgpack:"first_position"`
	LastPosition  uint64 `msgpack:"last_position"`
	Created       int64  `msgpack:"created"`
	Updated       int64  `msgpack:"updated"`
	Deleted       bool   `msgpack:"deleted,omitempty"`
}

// DeleteStreamRequest deletes a stream for good (a tombstone): its events
// disappear from stream reads and the name can never be appended to again.
// Its events stay in $all, whose positions never have gaps.
// Subject: store.<store>.delete_stream
type DeleteStreamRequest struct {
	Stream           string `msgpack:"stream"`
	ExpectedState    string `msgpack:"expected_state,omitempty"`
	ExpectedRevision *int64 `msgpack:"expected_revision,omitempty"`
}

// DeleteStreamReply confirms a deletion.
type DeleteStreamReply struct {
	Stream       string `msgpack:"stream"`
	LastRevision uint64 `msgpack:"last_revision"`
	Timestamp    int64  `msgpack:"timestamp"`
}

// ErrorReply is the body of every error reply; the same code and name are in
// the Nats-Service-Error-Code and Nats-Service-Error headers.
type ErrorReply struct {
	Code    int    `msgpack:"code"`
	Name    string `msgpack:"name"`
	Message string `msgpack:"message"`
	// CurrentRevision accompanies wrong_expected_revision when the stream exists.
	CurrentRevision *uint64 `msgpack:"current_revision,omitempty"`
}

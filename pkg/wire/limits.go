package wire

// Fixed limits on names; part of the contract, not configurable.
const (
	MaxStoreIDLen     = 64  // bytes
	MaxStreamLen      = 512 // bytes of UTF-8
	MaxEventTypeLen   = 256 // bytes of UTF-8
	MaxContentTypeLen = 128 // bytes
	DefaultReadCount  = 100 // events per read when max_count is absent
	DefaultListLimit  = 100 // streams per list_streams page when limit is absent
	MaxListLimit      = 1000
)

// Limits are the configurable size limits a server enforces. Every server of a
// cluster should use the same values.
type Limits struct {
	// MaxEventSize bounds one event: type + data + metadata + content types.
	MaxEventSize int `json:"max_event_size"`
	// MaxAppendEvents bounds the number of events in one append.
	MaxAppendEvents int `json:"max_append_events"`
	// MaxRequestSize bounds a request's encoded size.
	MaxRequestSize int `json:"max_request_size"`
	// MaxReadCount bounds max_count of a read.
	MaxReadCount int `json:"max_read_count"`
	// MaxReplySize bounds a read reply; a page stops early (with a cursor) to
	// stay under it. It must stay below the NATS server's max_payload.
	MaxReplySize int `json:"max_reply_size"`
}

// DefaultLimits are the limits unless configured otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxEventSize:    1 << 20,
		MaxAppendEvents: 1000,
		MaxRequestSize:  4 << 20,
		MaxReadCount:    4096,
		MaxReplySize:    4 << 20,
	}
}

// WithDefaults returns l with every zero field set to its default, so that a
// configuration naming only some limits keeps sane values for the others.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEventSize <= 0 {
		l.MaxEventSize = d.MaxEventSize
	}
	if l.MaxAppendEvents <= 0 {
		l.MaxAppendEvents = d.MaxAppendEvents
	}
	if l.MaxRequestSize <= 0 {
		l.MaxRequestSize = d.MaxRequestSize
	}
	if l.MaxReadCount <= 0 {
		l.MaxReadCount = d.MaxReadCount
	}
	if l.MaxReplySize <= 0 {
		l.MaxReplySize = d.MaxReplySize
	}
	return l
}

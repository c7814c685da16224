package sm

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// eventRecord is an event as stored under its position key.
type eventRecord struct {
	_msgpack            struct{} `msgpack:",as_array"`
	ID                  [16]byte
	Stream              string
	Type                string
	Revision            uint64
	Timestamp           int64
	Data                []byte
	DataContentType     string
	Metadata            []byte
	MetadataContentType string
}

// streamMeta is a stream's state under its stream key.
type streamMeta struct {
	_msgpack      struct{} `msgpack:",as_array"`
	LastRevision  uint64
	Count         uint64
	FirstPosition uint64
	LastPosition  uint64
	Created       int64
	Updated       int64
	Deleted       bool
}

// head is the store-wide state.
type head struct {
	_msgpack      struct{} `msgpack:",as_array"`
	NextPosition  uint64
	LastTimestamp int64
}

func encode(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		// Only our own fixed types are encoded here; failing is a bug.
		panic(fmt.Sprintf("sm: encode %T: %v", v, err))
	}
	return b
}

func decode(b []byte, v any) error {
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("sm: corrupt %T: %w", v, err)
	}
	return nil
}

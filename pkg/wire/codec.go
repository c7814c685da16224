package wire

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

var encPool = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	return &pooledEncoder{buf: &buf, enc: enc}
}}

type pooledEncoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Marshal encodes v the way every Logbook message is encoded: struct fields
// in declaration order, integers in their most compact form.
func Marshal(v any) ([]byte, error) {
	pe := encPool.Get().(*pooledEncoder)
	defer encPool.Put(pe)
	pe.buf.Reset()
	if err := pe.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("wire: encode %T: %w", v, err)
	}
	return bytes.Clone(pe.buf.Bytes()), nil
}

// UnmarshalReply decodes a reply: like Unmarshal, but unknown keys are
// ignored, so that a server may add reply fields without breaking clients.
func UnmarshalReply(data []byte, v any) error {
	return unmarshal(data, v, false, nil)
}

// Unmarshal decodes one message strictly: the payload must be exactly one
// MessagePack map, with no unknown keys and no trailing bytes. Errors are
// *codes.Error: MalformedRequest when the bytes are not MessagePack of the
// right shape, InvalidArgument when a field has the wrong type.
func Unmarshal(data []byte, v any) error {
	return unmarshal(data, v, true, nil)
}

// maxDecodeDetail bounds what an error message repeats of the MessagePack
// decoder's own message, which may quote an unknown key whole.
const maxDecodeDetail = 256

// unmarshal decodes data into v. A key of nonEmpty holding the empty string,
// at any depth, is refused (see shapeCheck).
func unmarshal(data []byte, v any, strict bool, nonEmpty []string) error {
	if len(data) == 0 {
		return codes.New(codes.MalformedRequest, "empty payload: expected a MessagePack map")
	}
	// Pass 1: is it one well-formed, reasonably shaped MessagePack map?
	if !isMapCode(data[0]) {
		return codes.New(codes.MalformedRequest, "expected a MessagePack map at the top level")
	}
	s := shapeCheck{nonEmpty: nonEmpty}
	rest, err := s.value(data, 0)
	if err != nil {
		return codes.New(codes.MalformedRequest, "not valid MessagePack: %v", err)
	}
	if len(rest) != 0 {
		return codes.New(codes.MalformedRequest, "%d trailing bytes after the message", len(rest))
	}
	if key := s.emptyKey(); key != "" {
		return emptyValue(key)
	}
	// Pass 2: decode into the typed message.
	if rd, ok := v.(rawDecoder); ok && !strict {
		if err := rd.decodeRaw(msgp.NewReader(data)); err != nil {
			return codes.New(codes.InvalidArgument, "%s", clip(err.Error(), maxDecodeDetail))
		}
		return nil
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields(strict)
	if err := dec.Decode(v); err != nil {
		return codes.New(codes.InvalidArgument, "%s", clip(err.Error(), maxDecodeDetail))
	}
	return nil
}

// emptyValue is the error for a key holding the empty string where the
// contract lists values: invalid_argument, or invalid_event_id for an
// event's id (a UUID, or absent for one chosen by the server).
func emptyValue(key string) error {
	if key == keyEventID {
		return codes.New(codes.InvalidEventID, "event id is the empty string: leave id out to have the server choose one")
	}
	return invalid("%s is the empty string, which is not one of its values: leave %s out for the default", key, key)
}

func isMapCode(c byte) bool {
	return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf
}

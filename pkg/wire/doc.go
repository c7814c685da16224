// Package wire holds every MessagePack message that crosses the NATS
// boundary: requests, replies, the recorded event and the error body. It is
// the Go side of the language-neutral contract in schemas/; golden vectors in
// schemas/testdata keep the two byte-for-byte equal.
//
// Conventions (also stated in schemas/README.md):
//   - every message is a MessagePack map with snake_case string keys;
//   - optional fields may be absent; unknown keys are rejected;
//   - integers are encoded in the smallest MessagePack form;
//   - byte fields (data, metadata) are MessagePack bin;
//   - timestamps are int64 nanoseconds since the Unix epoch, UTC.
//
// Messages are encoded and decoded by github.com/vmihailenco/msgpack's
// reflection, except on the paths that carry events by the thousand:
// RecordedEvent encodes itself, and the replies holding events (ReadReply,
// ReadAllReply, ReadAllPage, Delivery) decode themselves from the raw bytes
// with package msgp (event_codec.go). Tests hold both to the same bytes and
// values.
package wire

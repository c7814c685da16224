package wire

// Decoders of the snapshot operations. Like the others they decode strictly
// (wire.Unmarshal: one map, bounded shape, no unknown keys) and return either
// a valid request or a *codes.Error.

// validateVersion checks a version a client names: 0 to 2^63-2.
func validateVersion(field string, v *int64, required bool) error {
	if v == nil && required {
		return invalid("%s is required", field)
	}
	return validateFrom(field, v)
}

// DecodeSaveSnapshot decodes and validates a snapshot_save request. The
// snapshot's size (type + data + metadata + both content types) is bounded
// by max_event_size, like an event's.
func DecodeSaveSnapshot(data []byte, l Limits) (*SaveSnapshotRequest, error) {
	l = l.WithDefaults()
	return decode(data, l, func(r *SaveSnapshotRequest) error {
		return first(ValidateStream(r.Stream), validateVersion("version", r.Version, true), validateSnapshotType(r.Type),
			within(validatePayload(r.Type, r.Data, r.DataContentType, r.Metadata, r.MetadataContentType, l), "snapshot"),
			validateRange("keep_last", r.KeepLast, 1, maxRevision))
	})
}

func validateSnapshotType(t string) error {
	if t == "" {
		return invalid("type is required")
	}
	if len(t) > MaxEventTypeLen || checkText(t) != "" {
		return invalid("type must be UTF-8 text without control characters, up to %d bytes", MaxEventTypeLen)
	}
	return nil
}

// DecodeReadSnapshot decodes and validates a snapshot_read request.
func DecodeReadSnapshot(data []byte, l Limits) (*ReadSnapshotRequest, error) {
	return decode(data, l, func(r *ReadSnapshotRequest) error {
		return first(ValidateStream(r.Stream), validateVersion("max_version", r.MaxVersion, false))
	})
}

// DecodeListSnapshots decodes and validates a snapshot_list request; limit
// is the effective page size.
func DecodeListSnapshots(data []byte, l Limits) (req *ListSnapshotsRequest, limit int, err error) {
	req, err = decode(data, l, func(r *ListSnapshotsRequest) error {
		return first(ValidateStream(r.Stream), validateVersion("after", r.After, false),
			validateCount("limit", r.Limit, DefaultSnapshotListLimit, MaxSnapshotListLimit, &limit))
	})
	return req, limit, err
}

// DecodeDeleteSnapshot decodes and validates a snapshot_delete request.
func DecodeDeleteSnapshot(data []byte, l Limits) (*DeleteSnapshotRequest, error) {
	return decode(data, l, func(r *DeleteSnapshotRequest) error {
		return first(ValidateStream(r.Stream), validateVersion("version", r.Version, false))
	})
}

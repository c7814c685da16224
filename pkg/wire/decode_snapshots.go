package wire

import (
	"github.com/logbookdb/logbook/pkg/codes"
)

// Decoders of the snapshot operations. Like the others they decode strictly
// (wire.Unmarshal: one map, bounded shape, no unknown keys) and return either
// a valid request or a *codes.Error.

// validateVersion checks a version a client names: 0 to 2^63-2.
func validateVersion(field string, v *int64, required bool) error {
	if v == nil {
		if required {
			return invalid("%s is required", field)
		}
		return nil
	}
	if *v < 0 || *v > maxRevision {
		return invalid("%s %d is out of range", field, *v)
	}
	return nil
}

// DecodeSaveSnapshot decodes and validates a snapshot_save request. The
// snapshot's size (type + data + metadata + both content types) is bounded
// by max_event_size, like an event's.
func DecodeSaveSnapshot(data []byte, l Limits) (*SaveSnapshotRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req SaveSnapshotRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateVersion("version", req.Version, true); err != nil {
		return nil, err
	}
	if req.Type == "" {
		return nil, invalid("type is required")
	}
	if len(req.Type) > MaxEventTypeLen || checkText(req.Type) != "" {
		return nil, invalid("type must be UTF-8 text without control characters, up to %d bytes", MaxEventTypeLen)
	}
	if len(req.DataContentType) > MaxContentTypeLen || len(req.MetadataContentType) > MaxContentTypeLen {
		return nil, invalid("content type longer than %d bytes", MaxContentTypeLen)
	}
	if checkText(req.DataContentType) != "" || checkText(req.MetadataContentType) != "" {
		return nil, invalid("content type must be UTF-8 without control characters")
	}
	if req.KeepLast != nil && (*req.KeepLast < 1 || *req.KeepLast > maxRevision) {
		return nil, invalid("keep_last %d is out of range 1..%d", *req.KeepLast, int64(maxRevision))
	}
	size := len(req.Type) + len(req.Data) + len(req.Metadata) + len(req.DataContentType) + len(req.MetadataContentType)
	if size > l.MaxEventSize {
		return nil, codes.New(codes.EventTooLarge, "snapshot is %d bytes, more than max_event_size %d", size, l.MaxEventSize)
	}
	return &req, nil
}

// DecodeReadSnapshot decodes and validates a snapshot_read request.
func DecodeReadSnapshot(data []byte, l Limits) (*ReadSnapshotRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req ReadSnapshotRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateVersion("max_version", req.MaxVersion, false); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeListSnapshots decodes and validates a snapshot_list request; limit
// is the effective page size.
func DecodeListSnapshots(data []byte, l Limits) (req *ListSnapshotsRequest, limit int, err error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, 0, err
	}
	req = new(ListSnapshotsRequest)
	if err := Unmarshal(data, req); err != nil {
		return nil, 0, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, 0, err
	}
	if err := validateVersion("after", req.After, false); err != nil {
		return nil, 0, err
	}
	if limit, err = validateCount("limit", req.Limit, DefaultSnapshotListLimit, MaxSnapshotListLimit); err != nil {
		return nil, 0, err
	}
	return req, limit, nil
}

// DecodeDeleteSnapshot decodes and validates a snapshot_delete request.
func DecodeDeleteSnapshot(data []byte, l Limits) (*DeleteSnapshotRequest, error) {
	l = l.WithDefaults()
	if err := checkSize(data, l); err != nil {
		return nil, err
	}
	var req DeleteSnapshotRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if err := ValidateStream(req.Stream); err != nil {
		return nil, err
	}
	if err := validateVersion("version", req.Version, false); err != nil {
		return nil, err
	}
	return &req, nil
}

package wire

import (
	"github.com/logbookdb/logbook/pkg/codes"
)

// Decoders of backup and restore requests and the checks of backup
// records. Like the others they decode strictly and return either a valid
// request or a *codes.Error. Records that break a rule are invalid_backup:
// a restore never writes what a store could not have held.

// MaxBackupSessionLen bounds a backup session id.
const MaxBackupSessionLen = 64

// DecodeBackup decodes and validates a backup request.
func DecodeBackup(data []byte, l Limits) (*BackupRequest, error) {
	return decode(data, l, func(r *BackupRequest) error {
		var session error
		if len(r.Session) > MaxBackupSessionLen || checkText(r.Session) != "" {
			session = invalid("session must be text up to %d bytes", MaxBackupSessionLen)
		}
		var seq error
		switch {
		case r.Seq < 0:
			seq = invalid("seq %d is negative", r.Seq)
		case r.Session == "" && (r.Seq != 0 || r.Cancel):
			seq = invalid("seq and cancel need a session")
		}
		return first(session, seq)
	})
}

// DecodeRestore decodes and validates a restore request: seq 0 carries
// exactly a header, any later seq exactly a chunk or the counts.
func DecodeRestore(data []byte, l Limits) (*RestoreRequest, error) {
	l = l.WithDefaults()
	return decode(data, l, func(r *RestoreRequest) error {
		switch {
		case r.Seq < 0:
			return invalid("seq %d is negative", r.Seq)
		case r.Seq == 0:
			if r.Header == nil || r.Chunk != nil || r.Counts != nil {
				return invalid("seq 0 carries the header, and only it")
			}
			return ValidateBackupHeader(r.Header)
		case r.Header != nil:
			return invalid("only seq 0 carries the header")
		case (r.Chunk == nil) == (r.Counts == nil):
			return invalid("seq %d carries either a chunk or the counts", r.Seq)
		case r.Chunk != nil:
			return ValidateBackupChunk(r.Chunk, l)
		}
		return nil
	})
}

// DecodeBackupHeader decodes and validates a backup header (the first
// frame of a backup file).
func DecodeBackupHeader(data []byte, l Limits) (*BackupHeader, error) {
	return decode(data, l, ValidateBackupHeader)
}

// DecodeBackupChunk decodes and validates a chunk of backup records (a
// frame of a backup file).
func DecodeBackupChunk(data []byte, l Limits) (*BackupChunk, error) {
	l = l.WithDefaults()
	return decode(data, l, func(c *BackupChunk) error { return ValidateBackupChunk(c, l) })
}

func badBackup(format string, args ...any) error {
	return codes.New(codes.InvalidBackup, format, args...)
}

// ValidateBackupHeader checks a header: a format this build reads, a valid
// store id, a position within range.
func ValidateBackupHeader(h *BackupHeader) error {
	if h.Format != BackupFormat {
		return codes.New(codes.UnsupportedBackupVersion, "backup format %d is not supported (this build reads %d)", h.Format, BackupFormat)
	}
	if err := ValidateStoreID(h.Store); err != nil {
		return badBackup("header: store: %s", codes.As(err).Message)
	}
	if h.Position > maxRevision {
		return badBackup("header: position %d is out of range", h.Position)
	}
	return validateText("header.server_version", h.ServerVersion, 256)
}

// ValidateBackupChunk checks every record of a chunk, and that each kind
// is in order within it. Whether the records agree with each other and with
// the rest of the backup is the restoring store's check.
func ValidateBackupChunk(c *BackupChunk, l Limits) error {
	for i := range c.Events {
		if err := validateBackupEvent(&c.Events[i], l); err != nil {
			return within(err, "event %d", i)
		}
		if i > 0 && c.Events[i].Position != c.Events[i-1].Position+1 {
			return badBackup("event %d: position %d does not follow %d", i, c.Events[i].Position, c.Events[i-1].Position)
		}
	}
	for i := range c.Streams {
		s := &c.Streams[i]
		if err := ValidateStream(s.Stream); err != nil {
			return within(asBackup(err), "stream %d", i)
		}
		if s.Count == 0 || s.Count != s.LastRevision+1 || s.FirstPosition > s.LastPosition || s.LastPosition > maxRevision {
			return badBackup("stream %d (%s): inconsistent counters", i, Truncate(s.Stream))
		}
		if i > 0 && c.Streams[i-1].Stream >= s.Stream {
			return badBackup("stream %d: not in name order", i)
		}
	}
	for i := range c.Snapshots {
		s := &c.Snapshots[i]
		if err := first(ValidateStream(s.Stream), validateSnapshotType(s.Type),
			validatePayload(s.Type, s.Data, s.DataContentType, s.Metadata, s.MetadataContentType, l)); err != nil {
			return within(asBackup(err), "snapshot %d", i)
		}
		if s.Version > maxRevision {
			return badBackup("snapshot %d: version out of range", i)
		}
		if i > 0 {
			p := &c.Snapshots[i-1]
			if p.Stream > s.Stream || (p.Stream == s.Stream && p.Version >= s.Version) {
				return badBackup("snapshot %d: not in (stream, version) order", i)
			}
		}
	}
	for i := range c.Subscriptions {
		if err := validateBackupSubscription(&c.Subscriptions[i]); err != nil {
			return within(asBackup(err), "subscription %d", i)
		}
		if i > 0 && c.Subscriptions[i-1].Name >= c.Subscriptions[i].Name {
			return badBackup("subscription %d: not in name order", i)
		}
	}
	for i := range c.Parked {
		p := &c.Parked[i]
		if err := first(ValidateSubscriptionName("subscription", p.Subscription), validateText("reason", p.Reason, 1024)); err != nil {
			return within(asBackup(err), "parked %d", i)
		}
		if p.Position > maxRevision {
			return badBackup("parked %d: position out of range", i)
		}
		if i > 0 {
			q := &c.Parked[i-1]
			if q.Subscription > p.Subscription || (q.Subscription == p.Subscription && q.Position >= p.Position) {
				return badBackup("parked %d: not in (subscription, position) order", i)
			}
		}
	}
	return nil
}

func validateBackupEvent(e *BackupEvent, l Limits) error {
	u, err := ParseEventID(e.ID)
	if err != nil {
		return asBackup(err)
	}
	e.ID = u.String()
	if err := first(ValidateStream(e.Stream), ValidateEventType(e.Type),
		validatePayload(e.Type, e.Data, e.DataContentType, e.Metadata, e.MetadataContentType, l)); err != nil {
		return asBackup(err)
	}
	if e.Position > maxRevision || e.Revision > maxRevision {
		return badBackup("position or revision out of range")
	}
	return nil
}

func validateBackupSubscription(s *BackupSubscription) error {
	f := SubscriptionFilter{Stream: s.Stream, StreamPrefix: s.StreamPrefix, Category: s.Category, EventTypes: s.EventTypes}
	var start error
	switch s.Start {
	case "start", "end", "position":
	default:
		start = badBackup("start %q is not start, end or position", Truncate(s.Start))
	}
	var settings error
	if s.MaxInFlight < 1 || s.MaxInFlight > MaxMaxInFlight || s.AckTimeoutMs < MinAckTimeoutMs ||
		s.AckTimeoutMs > MaxAckTimeoutMs || s.MaxRetries < 0 || s.MaxRetries > MaxMaxRetries ||
		(s.Strategy != StrategyRoundRobin && s.Strategy != StrategyPinned) {
		settings = badBackup("settings out of range")
	}
	var progress error
	if s.Checkpoint > maxRevision || s.High > maxRevision || s.StartPosition > maxRevision {
		progress = badBackup("positions out of range")
	}
	return first(ValidateSubscriptionName("subscription", s.Name), ValidateSubscriptionFilter(&f), start, settings, progress)
}

// asBackup makes a record's failed check invalid_backup (the record, not
// a request field, is wrong), except a record too large for this store,
// which stays event_too_large.
func asBackup(err error) error {
	e := codes.As(err)
	if e == nil || e.Code == codes.EventTooLarge || e.Code == codes.InvalidBackup {
		return err
	}
	return &codes.Error{Code: codes.InvalidBackup, Message: e.Message}
}

// DecodeBackupTrailer decodes the trailer of a backup file.
func DecodeBackupTrailer(data []byte, l Limits) (*BackupTrailer, error) {
	return decode(data, l, func(t *BackupTrailer) error {
		if len(t.SHA256) != 64 {
			return badBackup("trailer: sha256 is not 64 hex digits")
		}
		return nil
	})
}

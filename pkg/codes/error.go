package codes

import (
	"errors"
	"fmt"
)

// Error is a Logbook error as a client sees it. Compare with errors.Is against
// the sentinels below (errors.Is(err, codes.ErrStreamNotFound)) or get the
// details with errors.As.
type Error struct {
	Code    Code
	Message string
	// CurrentRevision is set on WrongExpectedRevision: the stream's revision
	// when the append was checked, or nil if the stream did not exist.
	CurrentRevision *uint64
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Name()
	}
	return e.Code.Name() + ": " + e.Message
}

// Is matches any *Error with the same code, so the sentinels work with errors.Is.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// New returns an *Error with a formatted message.
func New(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// As extracts the *Error in err's chain. Errors that are not Logbook errors
// become Internal, keeping their text.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: err.Error()}
}

// Sentinels for errors.Is.
var (
	ErrMalformedRequest      = &Error{Code: MalformedRequest}
	ErrInvalidArgument       = &Error{Code: InvalidArgument}
	ErrInvalidStoreID        = &Error{Code: InvalidStoreID}
	ErrInvalidStream         = &Error{Code: InvalidStream}
	ErrInvalidEventID        = &Error{Code: InvalidEventID}
	ErrEmptyAppend           = &Error{Code: EmptyAppend}
	ErrInvalidEventType      = &Error{Code: InvalidEventType}
	ErrInvalidSettings       = &Error{Code: InvalidSettings}
	ErrStoreAlreadyExists    = &Error{Code: StoreAlreadyExists}
	ErrStoreLimitReached     = &Error{Code: StoreLimitReached}
	ErrReplicaLimitReached   = &Error{Code: ReplicaLimitReached}
	ErrStoreRemoving         = &Error{Code: StoreRemoving}
	ErrStoreProtected        = &Error{Code: StoreProtected}
	ErrStoreNotFound         = &Error{Code: StoreNotFound}
	ErrStreamNotFound        = &Error{Code: StreamNotFound}
	ErrUnknownOperation      = &Error{Code: UnknownOperation}
	ErrWrongExpectedRevision = &Error{Code: WrongExpectedRevision}
	ErrIdempotencyConflict   = &Error{Code: IdempotencyConflict}
	ErrStreamDeleted         = &Error{Code: StreamDeleted}
	ErrEventTooLarge         = &Error{Code: EventTooLarge}
	ErrTooManyEvents         = &Error{Code: TooManyEvents}
	ErrRequestTooLarge       = &Error{Code: RequestTooLarge}
	ErrQuotaExceeded         = &Error{Code: QuotaExceeded}
	ErrInternal              = &Error{Code: Internal}
	ErrUnavailable           = &Error{Code: Unavailable}
	ErrNotWritten            = &Error{Code: NotWritten}
	ErrTimeout               = &Error{Code: Timeout}
	ErrSnapshotNotFound      = &Error{Code: SnapshotNotFound}
	ErrSnapshotConflict      = &Error{Code: SnapshotConflict}
	ErrSnapshotVersionAhead  = &Error{Code: SnapshotVersionAhead}
	ErrVersionNotActive      = &Error{Code: VersionNotActive}

	// Persistent subscriptions.
	ErrInvalidFilter             = &Error{Code: InvalidFilter}
	ErrInvalidSubscriptionName   = &Error{Code: InvalidSubscriptionName}
	ErrSubscriptionNotFound      = &Error{Code: SubscriptionNotFound}
	ErrConsumerNotFound          = &Error{Code: ConsumerNotFound}
	ErrEventNotInFlight          = &Error{Code: EventNotInFlight}
	ErrSubscriptionAlreadyExists = &Error{Code: SubscriptionAlreadyExists}
	ErrEventAlreadyAcked         = &Error{Code: EventAlreadyAcked}
	ErrSubscriptionLimitReached  = &Error{Code: SubscriptionLimitReached}
)

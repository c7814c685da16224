package client

import "github.com/logbookdb/logbook/pkg/codes"

// Sentinels for errors.Is; see package codes for all of them.
var (
	ErrWrongExpectedRevision = codes.ErrWrongExpectedRevision
	ErrIdempotencyConflict   = codes.ErrIdempotencyConflict
	ErrStreamNotFound        = codes.ErrStreamNotFound
	ErrStreamDeleted         = codes.ErrStreamDeleted
	ErrStoreNotFound         = codes.ErrStoreNotFound
	ErrUnavailable           = codes.ErrUnavailable
	ErrNotWritten            = codes.ErrNotWritten
	ErrTimeout               = codes.ErrTimeout
	ErrStoreAlreadyExists    = codes.ErrStoreAlreadyExists
	ErrStoreLimitReached     = codes.ErrStoreLimitReached
	ErrReplicaLimitReached   = codes.ErrReplicaLimitReached
	ErrStoreRemoving         = codes.ErrStoreRemoving
	ErrStoreProtected        = codes.ErrStoreProtected
	ErrInvalidSettings       = codes.ErrInvalidSettings
	ErrQuotaExceeded         = codes.ErrQuotaExceeded
)

// Error is the type of every error Logbook returns; use errors.As.
type Error = codes.Error

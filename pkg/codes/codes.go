// Package codes holds Logbook's error codes: the one place where every error a
// client can see gets a stable number and a stable name.
//
// Numbers and names never change meaning once released. The number travels in
// the Nats-Service-Error-Code header, the name and message in the
// Nats-Service-Error header, and the full error (with details such as a
// stream's current revision) as a MessagePack body; see schemas/errors.md.
package codes

import (
	"fmt"
	"slices"
)

// Code is a stable error number. The hundreds follow HTTP's classes so that a
// generic client can tell "your fault" (4xx) from "try again" (5xx).
type Code int

const (
	// 400: the request itself is wrong; sending it again will fail again.
	MalformedRequest Code = 40000 // not valid MessagePack, or not a map of the request's shape
	InvalidArgument  Code = 40001 // a field has the wrong type, is missing, or is out of range
	InvalidStoreID   Code = 40002 // the store id in the subject is not a valid store id
	InvalidStream    Code = 40003 // the stream name is empty, too long, or has control characters
	InvalidEventID   Code = 40004 // an event id is not a UUID
	EmptyAppend      Code = 40005 // an append with no events
	InvalidEventType Code = 40006 // an event type is empty, too long, or has control characters
	InvalidSettings  Code = 40007 // store settings out of range or impossible here (unknown keys are invalid_argument)

	// 403: the caller may not do this (a second line of defence behind NATS's
	// own permissions; see docs/security.md).
	Forbidden Code = 40300 // the gateway refused the caller's NATS account this store or operation

	// 404: something named does not exist.
	StoreNotFound    Code = 40401
	StreamNotFound   Code = 40402
	UnknownOperation Code = 40403
	SnapshotNotFound Code = 40410 // no aggregate snapshot of the stream matches (at or below the version asked)
	NodeNotFound     Code = 40430 // no storenode with that id in the cluster

	// 409: the request conflicts with what is stored.
	WrongExpectedRevision Code = 40901 // carries the stream's current revision
	IdempotencyConflict   Code = 40902 // some of the event ids were written before, but not as this same append
	StoreAlreadyExists    Code = 40903 // a store with this id exists with other settings
	StoreLimitReached     Code = 40904 // the cluster holds its maximum number of stores
	StoreRemoving         Code = 40905 // the store is being removed
	StoreProtected        Code = 40906 // the default store cannot be removed
	ReplicaLimitReached   Code = 40907 // the storenodes a new store would be placed on hold their maximum number of store replicas
	SnapshotConflict      Code = 40910 // a snapshot of this stream and version exists with other content
	SnapshotVersionAhead  Code = 40911 // a snapshot's version is beyond the stream's last revision
	VersionNotActive      Code = 40950 // the operation needs a cluster version not active yet: finish the upgrade

	// 410: the stream was deleted.
	StreamDeleted Code = 41001

	// 413: a limit was exceeded.
	EventTooLarge   Code = 41301
	TooManyEvents   Code = 41302
	RequestTooLarge Code = 41303
	QuotaExceeded   Code = 41310 // the append would take the store past its max_events or max_bytes quota

	// 5xx: the server could not do it now; the same request may succeed later.
	// An append that failed with internal, unavailable or timeout may or may
	// not have been written: retry it with the same event ids to find out
	// without writing twice. not_written is certain: nothing was done.
	Internal    Code = 50000
	Unavailable Code = 50301 // no leader for the store, or the store is starting or stopping; outcome unknown
	NotWritten  Code = 50302 // refused before anything was done (no leader took it, a leadership move, a stopping node): send it again as is
	Timeout     Code = 50401 // the deadline passed before the outcome was known
)

// Persistent subscriptions (schemas/persistent-subscriptions.md).
const (
	InvalidFilter             Code = 40020 // a subscription's filter is not valid (bad stream name or event type, contradictory fields)
	InvalidSubscriptionName   Code = 40021 // a subscription or consumer name is empty, too long, or has characters outside [A-Za-z0-9_.-]
	SubscriptionNotFound      Code = 40420 // no persistent subscription of that name in the store
	ConsumerNotFound          Code = 40421 // the consumer has not joined the subscription on the current leader (join again)
	EventNotInFlight          Code = 40422 // none of the positions acked or nacked is in flight to this consumer
	SubscriptionAlreadyExists Code = 40920 // a subscription of that name exists with another definition
	EventAlreadyAcked         Code = 40921 // every position acked or nacked was already settled (acked, skipped or parked)
	SubscriptionLimitReached  Code = 40922 // the store holds its maximum number of persistent subscriptions
)

// Backup and restore (schemas/backup.md).
const (
	InvalidBackup            Code = 40030 // a backup file or restore request is corrupt, truncated, inconsistent or not a Logbook backup
	UnsupportedBackupVersion Code = 40031 // the backup's format version is not one this build reads
	BackupSessionNotFound    Code = 40440 // the backup session expired or its store's leader changed: start the backup again
	StoreNotEmpty            Code = 40930 // a restore's target store already holds data, or another restore into it began
	StoreRestoring           Code = 40931 // the store is being restored: it serves once the restore completes
)

var names = map[Code]string{
	MalformedRequest:      "malformed_request",
	InvalidArgument:       "invalid_argument",
	InvalidStoreID:        "invalid_store_id",
	InvalidStream:         "invalid_stream",
	InvalidEventID:        "invalid_event_id",
	EmptyAppend:           "empty_append",
	InvalidEventType:      "invalid_event_type",
	InvalidSettings:       "invalid_settings",
	Forbidden:             "forbidden",
	StoreNotFound:         "store_not_found",
	StreamNotFound:        "stream_not_found",
	UnknownOperation:      "unknown_operation",
	SnapshotNotFound:      "snapshot_not_found",
	NodeNotFound:          "node_not_found",
	SnapshotConflict:      "snapshot_conflict",
	SnapshotVersionAhead:  "snapshot_version_ahead",
	VersionNotActive:      "version_not_active",
	WrongExpectedRevision: "wrong_expected_revision",
	IdempotencyConflict:   "idempotency_conflict",
	StoreAlreadyExists:    "store_already_exists",
	StoreLimitReached:     "store_limit_reached",
	StoreRemoving:         "store_removing",
	StoreProtected:        "store_protected",
	ReplicaLimitReached:   "replica_limit_reached",
	StreamDeleted:         "stream_deleted",
	EventTooLarge:         "event_too_large",
	TooManyEvents:         "too_many_events",
	RequestTooLarge:       "request_too_large",
	QuotaExceeded:         "quota_exceeded",
	Internal:              "internal",
	Unavailable:           "unavailable",
	NotWritten:            "not_written",
	Timeout:               "timeout",

	// Persistent subscriptions.
	InvalidFilter:             "invalid_filter",
	InvalidSubscriptionName:   "invalid_subscription_name",
	SubscriptionNotFound:      "subscription_not_found",
	ConsumerNotFound:          "consumer_not_found",
	EventNotInFlight:          "event_not_in_flight",
	SubscriptionAlreadyExists: "subscription_already_exists",
	EventAlreadyAcked:         "event_already_acked",
	SubscriptionLimitReached:  "subscription_limit_reached",

	// Backup and restore.
	InvalidBackup:            "invalid_backup",
	UnsupportedBackupVersion: "unsupported_backup_version",
	BackupSessionNotFound:    "backup_session_not_found",
	StoreNotEmpty:            "store_not_empty",
	StoreRestoring:           "store_restoring",
}

// All returns every defined code, for documentation and tests.
func All() []Code {
	out := make([]Code, 0, len(names))
	for c := range names {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Defined reports whether c is one of the codes above.
func (c Code) Defined() bool {
	_, ok := names[c]
	return ok
}

// Name returns the code's stable snake_case name ("unknown_<n>" if undefined).
func (c Code) Name() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("unknown_%d", int(c))
}

func (c Code) String() string { return c.Name() }

// Retryable reports whether the same request may succeed if sent again later.
func (c Code) Retryable() bool { return c >= 50000 }

// FromName returns the code with the given name.
func FromName(name string) (Code, bool) {
	for c, n := range names {
		if n == name {
			return c, true
		}
	}
	return 0, false
}

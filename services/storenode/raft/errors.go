package raft

import (
	"context"
	"errors"
	"fmt"

	"github.com/lni/dragonboat/v4"
	"github.com/logbookdb/logbook/pkg/codes"
)

// Error maps a dragonboat error to a Logbook error. Only errors that
// dragonboat returns before a proposal enters the log mean "not applied"
// (not_written: certain, any request may be sent again); a proposal that was queued and then timed out, was
// cancelled, aborted or cut off by a closing shard may still commit, so those
// are timeout: outcome unknown, retry with the same event ids.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var ce *codes.Error
	if errors.As(err, &ce) {
		return err
	}
	switch {
	case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, dragonboat.ErrCanceled), errors.Is(err, context.Canceled),
		errors.Is(err, dragonboat.ErrAborted), errors.Is(err, dragonboat.ErrShardClosed):
		return fmt.Errorf("raft: %w", codes.New(codes.Timeout, "outcome unknown: %v", err))
	case errors.Is(err, dragonboat.ErrShardNotReady), errors.Is(err, dragonboat.ErrSystemBusy):
		return fmt.Errorf("raft: %w (%w)", codes.New(codes.NotWritten, "not proposed: %v", err), ErrNotYet)
	case errors.Is(err, dragonboat.ErrShardNotFound), errors.Is(err, dragonboat.ErrClosed),
		errors.Is(err, dragonboat.ErrRejected):
		return fmt.Errorf("raft: %w", codes.New(codes.NotWritten, "not proposed: %v", err))
	case errors.Is(err, dragonboat.ErrTimeoutTooSmall), errors.Is(err, dragonboat.ErrInvalidDeadline):
		// Refused before entering the log: too little of the deadline left.
		return fmt.Errorf("raft: %w", codes.New(codes.NotWritten, "not proposed: %v", err))
	case errors.Is(err, dragonboat.ErrPayloadTooBig):
		return fmt.Errorf("raft: %w", codes.New(codes.RequestTooLarge, "%v", err))
	}
	return fmt.Errorf("raft: %w", codes.New(codes.Internal, "%v", err))
}

// ErrNotYet marks a proposal the shard refused before it entered the log
// because it is busy or not ready (an election, a leadership transfer, a
// replica catching up): nothing was applied, and proposing again a moment
// later is safe and may succeed. errors.Is(err, ErrNotYet) on Error's result.
var ErrNotYet = errors.New("the shard is not ready for proposals yet")

// ErrShardNotFound reports a call on a shard that has no replica here.
var ErrShardNotFound = dragonboat.ErrShardNotFound

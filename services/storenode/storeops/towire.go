package storeops

import (
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// Conversions between the state machines' own types and the client
// protocol, beside the handlers that use them: sm and meta never speak
// wire. sm's events, stream infos and snapshots have the fields of their
// wire counterparts, in the same order, so each converts with a type
// conversion that reassigns the payload slices and copies no bytes.

// toWire converts a query's answer v (of type T) with conv, or passes on the
// query's error.
func toWire[T, R any](v any, err error, conv func(T) R) (any, error) {
	t, err := raft.As[T](v, err)
	if err != nil {
		return nil, err
	}
	return conv(t), nil
}

func wireEvents(evs []sm.Event) []wire.RecordedEvent {
	out := make([]wire.RecordedEvent, len(evs))
	for i := range evs {
		out[i] = wire.RecordedEvent(evs[i])
	}
	return out
}

// readReply is the page's reply: a ReadReply, or the same bytes from the
// events the state machine encoded itself (ReadStream.Encoded).
func readReply(p *sm.StreamPage) any {
	if p.Encoded != nil {
		return &wire.ReadReplyEncoded{Events: *p.Encoded, NextRevision: p.NextRevision, EndOfStream: p.EndOfStream, LastRevision: p.LastRevision}
	}
	return &wire.ReadReply{
		Events: wireEvents(p.Events), NextRevision: p.NextRevision,
		EndOfStream: p.EndOfStream, LastRevision: p.LastRevision,
	}
}

// readAllReply is the page's reply: a ReadAllReply, or the same bytes from
// the events the state machine encoded itself (ReadAll.Encoded).
func readAllReply(p *sm.AllPage) any {
	if p.Encoded != nil {
		return &wire.ReadAllReplyEncoded{Events: *p.Encoded, NextPosition: p.NextPosition, EndOfStore: p.EndOfStore}
	}
	return &wire.ReadAllReply{Events: wireEvents(p.Events), NextPosition: p.NextPosition, EndOfStore: p.EndOfStore}
}

func streamInfoReply(s *sm.StreamInfo) *wire.StreamInfo {
	info := wire.StreamInfo(*s)
	return &info
}

func listStreamsReply(l *sm.StreamList) *wire.ListStreamsReply {
	reply := &wire.ListStreamsReply{Streams: make([]wire.StreamInfo, len(l.Streams)), Next: l.Next}
	for i := range l.Streams {
		reply.Streams[i] = wire.StreamInfo(l.Streams[i])
	}
	return reply
}

func snapshotReply(s *sm.Snapshot) *wire.Snapshot {
	snap := wire.Snapshot(*s)
	return &snap
}

func listSnapshotsReply(p *sm.SnapshotPage) *wire.ListSnapshotsReply {
	reply := &wire.ListSnapshotsReply{Stream: p.Stream, Snapshots: make([]wire.SnapshotInfo, len(p.Snapshots)), Next: p.Next}
	for i := range p.Snapshots {
		reply.Snapshots[i] = wire.SnapshotInfo(p.Snapshots[i])
	}
	return reply
}

// psubInfoOf is a subscription's replicated state, without the live
// delivery state (psubManager.live adds it).
func psubInfoOf(p *sm.PSub) *wire.SubscriptionInfo {
	a, b, c := p.MaxInFlight, p.AckTimeoutMs, p.MaxRetries
	return &wire.SubscriptionInfo{
		Subscription:  p.Name,
		Filter:        wire.SubscriptionFilter{Stream: p.Stream, StreamPrefix: p.StreamPrefix, Category: p.Category, EventTypes: p.EventTypes},
		StartPosition: p.StartPosition,
		Settings:      wire.SubscriptionSettings{MaxInFlight: &a, AckTimeoutMs: &b, MaxRetries: &c, Strategy: p.Strategy},
		Created:       p.Created, Updated: p.Updated, Checkpoint: p.Checkpoint, ParkedCount: p.Parked,
		Consumers: []wire.ConsumerInfo{},
	}
}

func parkedReply(res *sm.PSubParkedResult) *wire.ParkedReply {
	reply := &wire.ParkedReply{Events: make([]wire.ParkedEvent, len(res.Entries)), More: res.More}
	for i, e := range res.Entries {
		reply.Events[i] = wire.ParkedEvent{
			Event: wire.RecordedEvent(e.Event), Reason: e.Park.Reason, DeliveryCount: e.Park.DeliveryCount, Parked: e.Park.Parked,
		}
	}
	return reply
}

// filterOf is the filter of a read of $all (nil: every event).
func filterOf(f *wire.Filter) *sm.Filter {
	if f == nil {
		return nil
	}
	return &sm.Filter{StreamPrefix: f.StreamPrefix, Category: f.Category, EventTypes: f.EventTypes}
}

// toU64 is an optional non-negative request field as the state machine
// takes it (the decoders have checked the sign).
func toU64(v *int64) *uint64 {
	if v == nil {
		return nil
	}
	u := uint64(*v)
	return &u
}

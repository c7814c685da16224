package client

// Catch-up subscriptions: history by reading, then live events from NATS,
// with every event delivered exactly once and in order. See
// schemas/live-events.md for the live subjects and headers this relies on.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// SubscribeFilter selects the events of a subscription. At most one field
// may be set; the zero value subscribes to $all (every event of the store).
type SubscribeFilter struct {
	// Stream selects one stream; the subscription's from is then a
	// revision of that stream rather than a position.
	Stream string
	// Category selects every stream whose category (the part of its name
	// before the first '-') is this one.
	Category string
	// EventType selects the events of one type, in any stream.
	EventType string
}

// FromEnd as the from of Subscribe skips the history: the subscription
// delivers the events that follow the last one present when it starts.
const FromEnd = ^uint64(0)

// StatusKind is what a Status reports.
type StatusKind int

const (
	// StatusCaughtUp: every event up to the live edge has been delivered;
	// from now on events come as they are committed. Reported when the
	// history read first reaches the end, and again after each gap is filled.
	StatusCaughtUp StatusKind = iota + 1
	// StatusFellBehind: live delivery missed events (Reason says how) or a
	// read failed (Err); the subscription reads to catch up again and
	// reports StatusCaughtUp when it has.
	StatusFellBehind
)

func (k StatusKind) String() string {
	switch k {
	case StatusCaughtUp:
		return "caught_up"
	case StatusFellBehind:
		return "fell_behind"
	}
	return fmt.Sprintf("status_%d", int(k))
}

// Reasons of StatusFellBehind.
const (
	ReasonPositionJump = "position_jump" // the headers show events this subscriber did not get
	ReasonEpochChange  = "epoch_change"  // a new publisher (leader change) that started after our position
	ReasonSlowConsumer = "slow_consumer" // nats.go dropped messages: the handler was too slow
	ReasonIdleCheck    = "idle_check"    // nothing arrived for a while and a read found events
	ReasonBadMessage   = "bad_message"   // a live message with bad headers or body
	ReasonReadFailed   = "read_failed"   // a read failed; it is retried (Err)
)

// Status is a change in a subscription's state.
type Status struct {
	Kind   StatusKind
	Reason string // for StatusFellBehind
	// Next is the position (the revision for a stream subscription) from
	// which events are still to be delivered.
	Next uint64
	Err  error // for ReasonReadFailed
}

// SubscribeOption configures a subscription.
type SubscribeOption func(*subOptions)

type subOptions struct {
	pageSize     int
	status       func(Status)
	idle         time.Duration
	pendingMsgs  int
	pendingBytes int
}

// PageSize sets how many events each history read asks for (default 500,
// at most the store's max_read_count).
func PageSize(n int) SubscribeOption { return func(o *subOptions) { o.pageSize = n } }

// StatusHandler receives the subscription's status changes, one call at a
// time; it must not block for long (it may delay the event handler).
func StatusHandler(f func(Status)) SubscribeOption { return func(o *subOptions) { o.status = f } }

// IdleCheck sets how long the subscription waits without a live event
// before reading once to make sure it missed nothing (default 5s): live
// delivery is at most once, and the last events before a quiet period have
// no successor whose headers would reveal their loss.
func IdleCheck(d time.Duration) SubscribeOption { return func(o *subOptions) { o.idle = d } }

// PendingLimits bounds the live messages buffered for the handler (see
// nats.Subscription.SetPendingLimits; default 65,536 messages and 64 MiB).
// Past it, messages are dropped and the subscription fills the gap by
// reading.
func PendingLimits(msgs, bytes int) SubscribeOption {
	return func(o *subOptions) { o.pendingMsgs, o.pendingBytes = msgs, bytes }
}

// Subscription is a running catch-up subscription; Stop ends it.
type Subscription struct {
	st      *Store
	filter  SubscribeFilter
	handler func(*RecordedEvent)
	opts    subOptions
	sub     *nats.Subscription
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	err      error
	statusMu sync.Mutex // serialises status handler calls

	// Owned by the subscription's goroutine.
	next  uint64 // next position (revision for a stream) to deliver
	epoch string // the last publisher seen
}

// Subscribe delivers the events of the store that match filter, from
// position from (a revision of the stream with filter.Stream; FromEnd: only
// new events), each exactly once and in order, to handler. It reads the
// history in pages, then switches to live events without a gap or a
// duplicate: it subscribes to the live subject first, reads until the end
// of the store, and drops live events the read already delivered. Gaps in
// live delivery (lost messages, a leader change, a slow handler) are
// detected from the events' headers and filled by reading.
//
// The handler and the status handler run on the subscription's own
// goroutine, one call at a time; a slow handler makes the subscription fall
// behind, never lose events. The subscription runs until ctx is cancelled,
// Stop is called, or it fails (a non-retryable error such as a deleted
// stream, or a closed connection): see Done and Err. The handler must not
// call Stop (cancel ctx instead).
func (s *Store) Subscribe(ctx context.Context, from uint64, filter SubscribeFilter, handler func(*RecordedEvent), opts ...SubscribeOption) (*Subscription, error) {
	if err := wire.ValidateStoreID(s.id); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, codes.New(codes.InvalidArgument, "subscribe: a handler is required")
	}
	subject, err := filterSubject(s.id, filter)
	if err != nil {
		return nil, err
	}
	o := subOptions{pageSize: 500, idle: 5 * time.Second, pendingMsgs: 65536, pendingBytes: 64 << 20}
	for _, f := range opts {
		f(&o)
	}
	if o.pageSize < 1 || o.pageSize > 4096 {
		return nil, codes.New(codes.InvalidArgument, "subscribe: page size %d is not in 1..4096", o.pageSize)
	}
	if o.idle <= 0 || o.pendingMsgs < 1 || o.pendingBytes < 1 {
		return nil, codes.New(codes.InvalidArgument, "subscribe: the idle check and the pending limits must be positive")
	}
	nsub, err := s.c.nc.SubscribeSync(subject)
	if err != nil {
		return nil, fmt.Errorf("logbook: subscribe to %s: %w", subject, codes.New(codes.Unavailable, "%v", err))
	}
	if err := nsub.SetPendingLimits(o.pendingMsgs, o.pendingBytes); err != nil {
		nsub.Unsubscribe()
		return nil, fmt.Errorf("logbook: subscribe: %w", codes.New(codes.Internal, "%v", err))
	}
	// The server must know the subscription before the history is read:
	// an event committed after the read is then certainly delivered live.
	fctx, fcancel := context.WithTimeout(ctx, s.c.opts.timeout)
	err = s.c.nc.FlushWithContext(fctx)
	fcancel()
	if err != nil {
		nsub.Unsubscribe()
		return nil, fmt.Errorf("logbook: subscribe: %w", codes.New(codes.Unavailable, "flush: %v", err))
	}
	rctx, cancel := context.WithCancel(ctx)
	sub := &Subscription{
		st: s, filter: filter, handler: handler, opts: o, sub: nsub,
		cancel: cancel, done: make(chan struct{}), next: from,
	}
	go sub.run(rctx)
	return sub, nil
}

func filterSubject(store string, f SubscribeFilter) (string, error) {
	set := 0
	for _, v := range []string{f.Stream, f.Category, f.EventType} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return "", codes.New(codes.InvalidArgument, "subscribe: set at most one of stream, category and event type")
	}
	switch {
	case f.Stream != "":
		if err := wire.ValidateStream(f.Stream); err != nil {
			return "", err
		}
		return subjects.EventsOfStream(store, f.Stream), nil
	case f.Category != "":
		// A category is a prefix of a valid stream name: the same rules.
		if err := wire.ValidateStream(f.Category); err != nil {
			return "", codes.New(codes.InvalidArgument, "subscribe: invalid category: %v", err)
		}
		if strings.Contains(f.Category, "-") {
			return "", codes.New(codes.InvalidArgument, "subscribe: a category has no '-' (it is the part of a stream name before the first one)")
		}
		return subjects.EventsOfCategory(store, f.Category), nil
	case f.EventType != "":
		if err := wire.ValidateEventType(f.EventType); err != nil {
			return "", err
		}
		return subjects.EventsOfType(store, f.EventType), nil
	}
	return subjects.EventsOfStore(store), nil
}

// Stop ends the subscription and waits for its goroutine to return.
func (s *Subscription) Stop() {
	s.cancel()
	<-s.done
}

// Done is closed when the subscription has ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended: nil after Stop or the cancellation of
// its context.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Subscription) run(ctx context.Context) {
	defer close(s.done)
	defer s.sub.Unsubscribe()
	err := s.loop(ctx)
	if ctx.Err() != nil {
		err = nil
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

var errIdle = errors.New("idle")

func (s *Subscription) loop(ctx context.Context) error {
	if s.next == FromEnd {
		if err := s.resolveEnd(ctx); err != nil {
			return err
		}
	}
	if err := s.fill(ctx, ""); err != nil {
		return err
	}
	for {
		msg, err := s.nextMsg(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, nats.ErrSlowConsumer):
			err = s.fill(ctx, ReasonSlowConsumer)
		case errors.Is(err, errIdle):
			err = s.fill(ctx, ReasonIdleCheck)
		case err != nil:
			return fmt.Errorf("logbook: subscription: %w", err)
		default:
			err = s.handle(ctx, msg)
		}
		if err != nil {
			return err
		}
	}
}

func (s *Subscription) nextMsg(ctx context.Context) (*nats.Msg, error) {
	if n, _, _ := s.sub.Pending(); n > 0 {
		return s.sub.NextMsgWithContext(ctx)
	}
	ictx, cancel := context.WithTimeout(ctx, s.opts.idle)
	defer cancel()
	m, err := s.sub.NextMsgWithContext(ictx)
	if err != nil && ctx.Err() == nil && ictx.Err() != nil {
		return nil, errIdle
	}
	return m, err
}

// handle delivers one live message, or fills the gap it reveals first.
func (s *Subscription) handle(ctx context.Context, msg *nats.Msg) error {
	h, err := wire.ParseLiveHeaders(msg.Header)
	if err != nil {
		return s.fill(ctx, ReasonBadMessage)
	}
	key := h.Position
	if s.filter.Stream != "" {
		key = h.Revision
	}
	if key < s.next {
		return nil // delivered already; no need to decode it
	}
	var ev RecordedEvent
	if err := wire.UnmarshalReply(msg.Data, &ev); err != nil || ev.Position != h.Position || ev.Revision != h.Revision {
		return s.fill(ctx, ReasonBadMessage)
	}
	epochChanged := s.epoch != "" && s.epoch != h.Epoch
	s.epoch = h.Epoch
	for attempt := 0; ; attempt++ {
		if key < s.next {
			return nil // delivered already (by a read, or by another publisher)
		}
		if !s.gap(h) {
			if !s.matches(&ev) {
				return nil
			}
			s.handler(&ev)
			s.next = key + 1
			return nil
		}
		if attempt == 2 {
			// Reads did not reach this event: leave it to the next event or
			// the idle check rather than deliver past a hole.
			return nil
		}
		reason := ReasonPositionJump
		if epochChanged {
			reason = ReasonEpochChange
		}
		if err := s.fill(ctx, reason); err != nil {
			return err
		}
	}
}

// gap reports whether events matching the filter may exist between s.next
// and the live event h that this subscriber has not received.
func (s *Subscription) gap(h *wire.LiveHeaders) bool {
	var prev *uint64
	switch {
	case s.filter.Stream != "":
		return h.Revision > s.next // revisions are dense
	case s.filter.Category != "":
		prev = h.PrevCategory
	case s.filter.EventType != "":
		prev = h.PrevType
	default:
		return h.Position > s.next // positions are dense
	}
	if prev != nil {
		// No matching event in (prev, position); we have everything < next.
		return *prev >= s.next
	}
	// No matching event in [epoch start, position).
	return h.EpochStart > s.next
}

func (s *Subscription) matches(ev *RecordedEvent) bool {
	switch {
	case s.filter.Stream != "":
		return ev.Stream == s.filter.Stream
	case s.filter.Category != "":
		return wire.Category(ev.Stream) == s.filter.Category
	case s.filter.EventType != "":
		return ev.Type == s.filter.EventType
	}
	return true
}

func (s *Subscription) status(st Status) { s.statusFrom(st, s.next) }

// statusFrom reports st with Next = next. Status handlers are called one at
// a time (a read-ahead may report a failed read beside the main goroutine).
func (s *Subscription) statusFrom(st Status, next uint64) {
	if s.opts.status != nil {
		st.Next = next
		s.statusMu.Lock()
		defer s.statusMu.Unlock()
		s.opts.status(st)
	}
}

// fill reads from s.next to the end of the store (of the stream), delivering
// every event, then reports StatusCaughtUp. reason is "" for the initial
// catch-up and ReasonIdleCheck for a check that only reports when it finds
// something. While the handler works through one page, the next one is
// already being read.
func (s *Subscription) fill(ctx context.Context, reason string) error {
	behind := reason != "" && reason != ReasonIdleCheck
	if behind {
		s.status(Status{Kind: StatusFellBehind, Reason: reason})
	}
	p, err := s.readPage(ctx, s.next)
	if err != nil {
		return err
	}
	if reason == ReasonIdleCheck && p.count() > 0 {
		behind = true
		s.status(Status{Kind: StatusFellBehind, Reason: reason})
	}
	// An unfiltered $all is gapless: a full page starting at from ends at
	// from+pageSize, so the page after the next one can be asked for too
	// before the next one arrives (guess). A guess that turns out wrong (a
	// page cut short by the reply size limit) is dropped and the right page
	// read. Every read started here is waited for before fill returns.
	gapless := s.filter == SubscribeFilter{}
	var guess *pageRead
	defer func() { guess.wait() }()
	for {
		var ahead *pageRead
		if !p.end {
			if guess != nil && guess.from == p.next {
				ahead, guess = guess, nil
			} else {
				guess.wait()
				guess, ahead = nil, s.startRead(ctx, p.next)
			}
			if gapless && p.count() == s.opts.pageSize {
				guess = s.startRead(ctx, p.next+uint64(s.opts.pageSize))
			}
		}
		if err := p.decode(); err != nil { // while the next pages are read
			ahead.wait()
			return err
		}
		for i := range p.events {
			s.handler(&p.events[i])
		}
		if p.next > s.next {
			s.next = p.next
		}
		if ahead == nil {
			break
		}
		p = ahead.wait() // the read ends promptly when ctx does
		if p.err != nil {
			return p.err
		}
	}
	if behind || reason == "" {
		s.status(Status{Kind: StatusCaughtUp})
	}
	return nil
}

// pageRead is a page being read on a goroutine of its own.
type pageRead struct {
	from uint64
	ch   chan pageResult
	got  *pageResult
}

// startRead starts reading the page at from.
func (s *Subscription) startRead(ctx context.Context, from uint64) *pageRead {
	r := &pageRead{from: from, ch: make(chan pageResult, 1)}
	go func() {
		p, err := s.readPage(ctx, from)
		p.err = err
		r.ch <- p
	}()
	return r
}

// wait returns the page once read (its error in err); on a nil pageRead it
// does nothing.
func (r *pageRead) wait() pageResult {
	if r == nil {
		return pageResult{}
	}
	if r.got == nil {
		p := <-r.ch
		r.got = &p
	}
	return *r.got
}

// pageResult is one page of history: its events, where the next page
// starts, and whether it reached the end.
type pageResult struct {
	events []RecordedEvent
	next   uint64
	end    bool
	err    error
	// encoded, if set, holds the events still encoded (a page of $all):
	// decode fills events from it.
	encoded *wire.ReadAllPage
}

// count is the number of events in the page.
func (p *pageResult) count() int {
	if p.encoded != nil {
		return p.encoded.Count
	}
	return len(p.events)
}

// decode decodes the page's events if they are still encoded.
func (p *pageResult) decode() error {
	if p.encoded == nil {
		return nil
	}
	evs, err := p.encoded.Events()
	if err != nil {
		return fmt.Errorf("logbook: bad reply to %s: %w", subjects.OpReadAll, err)
	}
	p.events, p.encoded = evs, nil
	return nil
}

// readPage reads the page that starts at from, retrying retryable failures
// until ctx ends. It may run beside the handler (read-ahead), so it touches
// no field the subscription's goroutine writes.
func (s *Subscription) readPage(ctx context.Context, from uint64) (pageResult, error) {
	backoff := 50 * time.Millisecond
	for {
		p, err := s.readOnce(ctx, from)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		if !retryable(err) {
			return p, err
		}
		s.statusFrom(Status{Kind: StatusFellBehind, Reason: ReasonReadFailed, Err: err}, from)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return p, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Subscription) readOnce(ctx context.Context, from uint64) (pageResult, error) {
	if s.filter.Stream != "" {
		page, err := s.st.Read(ctx, s.filter.Stream, ReadOptions{From: Revision(from), MaxCount: s.opts.pageSize})
		if errors.Is(err, codes.ErrStreamNotFound) {
			return pageResult{next: from, end: true}, nil // not written yet: its first event will come live
		}
		if err != nil {
			return pageResult{}, err
		}
		next := from
		if len(page.Events) > 0 {
			next = page.NextRevision
		}
		return pageResult{events: page.Events, next: next, end: page.EndOfStream}, nil
	}
	o := ReadAllOptions{From: Revision(from), MaxCount: s.opts.pageSize}
	switch {
	case s.filter.Category != "":
		o.Filter = &Filter{Category: s.filter.Category}
	case s.filter.EventType != "":
		o.Filter = &Filter{EventTypes: []string{s.filter.EventType}}
	}
	page, err := s.st.readAllPage(ctx, o)
	if err != nil {
		return pageResult{}, err
	}
	return pageResult{encoded: page, next: max(from, page.NextPosition), end: page.EndOfStore}, nil
}

// resolveEnd sets s.next to the position (revision) after the last event.
func (s *Subscription) resolveEnd(ctx context.Context) error {
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		var err error
		if s.filter.Stream != "" {
			var info *StreamInfo
			info, err = s.st.StreamInfo(ctx, s.filter.Stream)
			switch {
			case errors.Is(err, codes.ErrStreamNotFound):
				s.next = 0
				return nil
			case err == nil:
				s.next = info.LastRevision + 1
				return nil
			}
		} else {
			var page *AllPage
			page, err = s.st.ReadAll(ctx, ReadAllOptions{Direction: Backward, MaxCount: 1})
			if err == nil {
				s.next = 0
				if len(page.Events) > 0 {
					s.next = page.Events[0].Position + 1
				}
				return nil
			}
		}
		if ctx.Err() != nil || !retryable(err) {
			return err
		}
		s.status(Status{Kind: StatusFellBehind, Reason: ReasonReadFailed, Err: err})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

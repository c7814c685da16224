package sm

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// Persistent subscriptions: their definitions, replicated checkpoints and
// parked events live in the store's own state machine, so that they move
// with the store's leadership and survive restarts. Delivery itself (who
// holds which event) is the leader's business and is not replicated; see
// services/storenode/node/psub_leader.go.
//
// Keys (prefix 'p'):
//
//	'p' 0x00 "seq"                 generation counter, bumped by every create
//	'p' 0x01 name                  PSub: definition, checkpoint, high-water, parked count
//	'p' 0x02 name 0x00 pos(8 BE)   PSubPark: a parked event of that subscription
//
// Subscription names are [A-Za-z0-9_.-], so 0x00 cleanly ends a name.

// Command ops of persistent subscriptions (24–31 are theirs).
const (
	OpPSubCreate   uint8 = 24
	OpPSubUpdate   uint8 = 25
	OpPSubDelete   uint8 = 26
	OpPSubProgress uint8 = 27
)

const prefixPSub = 'p'

var keyPSubSeq = []byte("p\x00seq")

func psubKey(name string) []byte {
	return append([]byte{prefixPSub, 1}, name...)
}

func psubParkPrefix(name string) []byte {
	k := append([]byte{prefixPSub, 2}, name...)
	return append(k, 0)
}

func psubParkKey(name string, pos uint64) []byte {
	return append(psubParkPrefix(name), u64(pos)...)
}

// PSub is a persistent subscription as stored.
type PSub struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Name          string
	Gen           uint64 // distinguishes a subscription from an earlier one of the same name
	Stream        string
	StreamPrefix  string
	Category      string
	EventTypes    []string
	StartKind     string // start, end or position, as asked
	StartPosition uint64 // resolved
	MaxInFlight   int64
	AckTimeoutMs  int64
	MaxRetries    int64
	Strategy      string
	Created       int64
	Updated       int64
	// Checkpoint: every matching event below it was acked, skipped or parked.
	Checkpoint uint64
	// High: events below it may have been delivered (the leader raises it
	// before delivering beyond it), so after a leader change the events in
	// [Checkpoint, High) are marked as redelivered.
	High   uint64
	Parked uint64 // number of parked events
}

// Filter returns the subscription's filter as on the wire.
func (p *PSub) Filter() wire.SubscriptionFilter {
	return wire.SubscriptionFilter{Stream: p.Stream, StreamPrefix: p.StreamPrefix, Category: p.Category, EventTypes: p.EventTypes}
}

// Settings returns the subscription's settings as on the wire.
func (p *PSub) Settings() wire.SubscriptionSettings {
	a, b, c := p.MaxInFlight, p.AckTimeoutMs, p.MaxRetries
	return wire.SubscriptionSettings{MaxInFlight: &a, AckTimeoutMs: &b, MaxRetries: &c, Strategy: p.Strategy}
}

// Match reports whether an event passes the subscription's filter.
func (p *PSub) Match(e *wire.RecordedEvent) bool {
	if p.Stream != "" && e.Stream != p.Stream {
		return false
	}
	if p.StreamPrefix != "" && !strings.HasPrefix(e.Stream, p.StreamPrefix) {
		return false
	}
	if p.Category != "" && wire.Category(e.Stream) != p.Category {
		return false
	}
	return len(p.EventTypes) == 0 || slices.Contains(p.EventTypes, e.Type)
}

// PSubPark is a parked event as stored.
type PSubPark struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Reason        string
	DeliveryCount uint64
	Parked        int64
}

// PSubCreate is the Aux of OpPSubCreate: the definition, validated by the
// proposer (wire.DecodeCreateSubscription); the apply resolves start "end".
type PSubCreate struct {
	_msgpack struct{} `msgpack:",as_array"`
	Def      PSub
	MaxSubs  int
}

// PSubUpdate is the Aux of OpPSubUpdate; a negative value or "" keeps the setting.
type PSubUpdate struct {
	_msgpack     struct{} `msgpack:",as_array"`
	Name         string
	MaxInFlight  int64
	AckTimeoutMs int64
	MaxRetries   int64
	Strategy     string
}

// PSubProgress is the Aux of OpPSubProgress: what the leader's delivery
// task has settled since its last proposal. Checkpoint and High only ever
// move forward; parks are recorded before (in the same apply as) the
// checkpoint that passes them.
type PSubProgress struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Name       string
	Gen        uint64
	Checkpoint uint64
	High       uint64
	Park       []PSubParkCmd
	Unpark     []uint64
}

// PSubParkCmd parks one event.
type PSubParkCmd struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Position      uint64
	Reason        string
	DeliveryCount uint64
}

// EncodeAux encodes the payload of a registered command.
func EncodeAux(v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sm: encode %T: %w", v, err)
	}
	return b, nil
}

func decodeAux(c *Command, v any) error {
	if err := msgpack.Unmarshal(c.Aux, v); err != nil {
		return codes.New(codes.Internal, "undecodable command payload: %v", err)
	}
	return nil
}

func init() {
	RegisterOp(OpPSubCreate, applyPSubCreate)
	RegisterOp(OpPSubUpdate, applyPSubUpdate)
	RegisterOp(OpPSubDelete, applyPSubDelete)
	RegisterOp(OpPSubProgress, applyPSubProgress)
}

func (a *applier) psub(name string) (*PSub, error) {
	b, ok, err := get(a.b, psubKey(name))
	if err != nil || !ok {
		return nil, err
	}
	var p PSub
	return &p, decode(b, &p)
}

func psubNotFound(name string) error {
	return codes.New(codes.SubscriptionNotFound, "subscription %q does not exist", name)
}

func sameDefinition(a, b *PSub) bool {
	return a.Stream == b.Stream && a.StreamPrefix == b.StreamPrefix && a.Category == b.Category &&
		slices.Equal(a.EventTypes, b.EventTypes) && a.StartKind == b.StartKind &&
		(a.StartKind != wire.StartAtPosition || a.StartPosition == b.StartPosition) &&
		a.MaxInFlight == b.MaxInFlight && a.AckTimeoutMs == b.AckTimeoutMs &&
		a.MaxRetries == b.MaxRetries && a.Strategy == b.Strategy
}

func applyPSubCreate(a *applier, c *Command, ts int64) (Result, error) {
	var cmd PSubCreate
	if err := decodeAux(c, &cmd); err != nil {
		return Result{}, err
	}
	def := cmd.Def
	old, err := a.psub(def.Name)
	if err != nil {
		return Result{}, err
	}
	if old != nil {
		if sameDefinition(old, &def) {
			return Result{FirstPosition: old.StartPosition, Timestamp: old.Created, Duplicate: true}, nil
		}
		return Result{}, codes.New(codes.SubscriptionAlreadyExists, "subscription %q exists with another definition", def.Name)
	}
	n, err := a.countPSubs()
	if err != nil {
		return Result{}, err
	}
	if cmd.MaxSubs > 0 && n >= cmd.MaxSubs {
		return Result{}, codes.New(codes.SubscriptionLimitReached, "the store holds %d subscriptions, the most it may", n)
	}
	var seq uint64
	if b, ok, err := get(a.b, keyPSubSeq); err != nil {
		return Result{}, err
	} else if ok {
		seq = decodeU64(b)
	}
	seq++
	a.b.Set(keyPSubSeq, u64(seq), nil)
	def.Gen = seq
	switch def.StartKind {
	case wire.StartAtEnd:
		def.StartPosition = a.head.NextPosition
	case wire.StartAtStart:
		def.StartPosition = 0
	}
	def.Created, def.Updated = ts, ts
	def.Checkpoint, def.High, def.Parked = def.StartPosition, def.StartPosition, 0
	a.b.Set(psubKey(def.Name), encode(&def), nil)
	return Result{FirstPosition: def.StartPosition, Timestamp: ts}, nil
}

func (a *applier) countPSubs() (int, error) {
	lo := []byte{prefixPSub, 1}
	it := a.b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Error()
}

func applyPSubUpdate(a *applier, c *Command, ts int64) (Result, error) {
	var cmd PSubUpdate
	if err := decodeAux(c, &cmd); err != nil {
		return Result{}, err
	}
	p, err := a.psub(cmd.Name)
	if err != nil {
		return Result{}, err
	}
	if p == nil {
		return Result{}, psubNotFound(cmd.Name)
	}
	if cmd.MaxInFlight >= 0 {
		p.MaxInFlight = cmd.MaxInFlight
	}
	if cmd.AckTimeoutMs >= 0 {
		p.AckTimeoutMs = cmd.AckTimeoutMs
	}
	if cmd.MaxRetries >= 0 {
		p.MaxRetries = cmd.MaxRetries
	}
	if cmd.Strategy != "" {
		p.Strategy = cmd.Strategy
	}
	p.Updated = ts
	a.b.Set(psubKey(p.Name), encode(p), nil)
	return Result{Timestamp: ts}, nil
}

func applyPSubDelete(a *applier, c *Command, ts int64) (Result, error) {
	name := c.Stream // the subscription's name travels in Stream
	p, err := a.psub(name)
	if err != nil {
		return Result{}, err
	}
	if p == nil {
		return Result{}, psubNotFound(name)
	}
	a.b.Delete(psubKey(name), nil)
	lo := psubParkPrefix(name)
	it := a.b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return Result{}, fmt.Errorf("sm: iterate parked: %w", err)
	}
	for _, k := range keys {
		a.b.Delete(k, nil)
	}
	return Result{Timestamp: ts}, nil
}

func applyPSubProgress(a *applier, c *Command, ts int64) (Result, error) {
	var cmd PSubProgress
	if err := decodeAux(c, &cmd); err != nil {
		return Result{}, err
	}
	p, err := a.psub(cmd.Name)
	if err != nil {
		return Result{}, err
	}
	if p == nil || p.Gen != cmd.Gen {
		return Result{}, psubNotFound(cmd.Name)
	}
	for _, pk := range cmd.Park {
		k := psubParkKey(p.Name, pk.Position)
		_, exists, err := get(a.b, k)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			p.Parked++
		}
		a.b.Set(k, encode(&PSubPark{Reason: pk.Reason, DeliveryCount: pk.DeliveryCount, Parked: ts}), nil)
	}
	for _, pos := range cmd.Unpark {
		k := psubParkKey(p.Name, pos)
		_, exists, err := get(a.b, k)
		if err != nil {
			return Result{}, err
		}
		if exists {
			p.Parked--
			a.b.Delete(k, nil)
		}
	}
	p.Checkpoint = max(p.Checkpoint, cmd.Checkpoint)
	p.High = max(p.High, cmd.High, p.Checkpoint)
	a.b.Set(psubKey(p.Name), encode(p), nil)
	return Result{FirstPosition: p.Checkpoint, Timestamp: ts}, nil
}

// ---- queries ----------------------------------------------------------

// PSubGet returns one subscription (*PSub) or subscription_not_found.
type PSubGet struct{ Name string }

// Run implements ExtQuery.
func (q PSubGet) Run(v view) (any, error) {
	b, ok, err := get(v.snap, psubKey(q.Name))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, psubNotFound(q.Name)
	}
	var p PSub
	if err := decode(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// PSubList returns every subscription ([]*PSub) in name order.
type PSubList struct{}

// Run implements ExtQuery.
func (PSubList) Run(v view) (any, error) {
	lo := []byte{prefixPSub, 1}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	defer it.Close()
	out := []*PSub{}
	for ok := it.First(); ok; ok = it.Next() {
		var p PSub
		if err := decode(it.Value(), &p); err != nil {
			return nil, err
		}
		out = append(out, &p)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list subscriptions: %w", err)
	}
	return out, nil
}

// PSubScan reads the events of $all from From on that pass the filter of
// Sub: at most Max of them, examining at most MaxScan events and stopping
// before MaxBytes of payload. The leader's delivery task uses it with a
// stale (local, committed) read.
type PSubScan struct {
	Sub      *PSub
	From     uint64
	Max      int
	MaxBytes int
}

// PSubScanResult is the answer to PSubScan: the matching events and the
// position to continue from (every position below Next was examined).
type PSubScanResult struct {
	Events []wire.RecordedEvent
	Next   uint64
	Head   uint64 // the store's next position
}

// Run implements ExtQuery.
func (q PSubScan) Run(v view) (any, error) {
	var h head
	if b, ok, err := get(v.snap, keyHead); err != nil {
		return nil, err
	} else if ok {
		if err := decode(b, &h); err != nil {
			return nil, err
		}
	}
	res := &PSubScanResult{Next: q.From, Head: h.NextPosition}
	if q.From >= h.NextPosition {
		return res, nil
	}
	it := v.snap.NewIter(&pebble.IterOptions{LowerBound: eventKey(q.From), UpperBound: eventKey(h.NextPosition)})
	defer it.Close()
	size, scanned := 0, 0
	for ok := it.First(); ok && scanned < MaxScan && len(res.Events) < q.Max; ok = it.Next() {
		pos := posFromEventKey(it.Key())
		ev, err := toWire(it.Value(), pos)
		if err != nil {
			return nil, err
		}
		if q.Sub.Match(&ev) {
			if size += eventSize(&ev); size > q.MaxBytes && len(res.Events) > 0 {
				break
			}
			res.Events = append(res.Events, ev)
		}
		scanned++
		res.Next = pos + 1
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: scan: %w", err)
	}
	return res, nil
}

// PSubParked pages through a subscription's parked events (after After,
// exclusive, when HasAfter), with the events themselves.
type PSubParked struct {
	Name     string
	After    uint64
	HasAfter bool
	Limit    int
	// Skip leaves out parked events at these positions (the leader's replays in progress).
	Skip map[uint64]bool
}

// PSubParkedEntry is one parked event.
type PSubParkedEntry struct {
	Park  PSubPark
	Event wire.RecordedEvent
}

// PSubParkedResult answers PSubParked.
type PSubParkedResult struct {
	Entries []PSubParkedEntry
	More    bool
}

// Run implements ExtQuery.
func (q PSubParked) Run(v view) (any, error) {
	if _, ok, err := get(v.snap, psubKey(q.Name)); err != nil {
		return nil, err
	} else if !ok {
		return nil, psubNotFound(q.Name)
	}
	lo := psubParkPrefix(q.Name)
	opts := &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)}
	if q.HasAfter {
		if q.After == ^uint64(0) {
			return &PSubParkedResult{Entries: []PSubParkedEntry{}}, nil
		}
		opts.LowerBound = psubParkKey(q.Name, q.After+1)
	}
	it := v.snap.NewIter(opts)
	defer it.Close()
	res := &PSubParkedResult{Entries: []PSubParkedEntry{}}
	size := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		pos := decodeU64(k[len(k)-8:])
		if q.Skip[pos] {
			continue
		}
		if len(res.Entries) >= q.Limit {
			res.More = true
			break
		}
		var e PSubParkedEntry
		if err := decode(it.Value(), &e.Park); err != nil {
			return nil, err
		}
		b, ok, err := get(v.snap, eventKey(pos))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("sm: corrupt store: parked event at missing position %d", pos)
		}
		if e.Event, err = toWire(b, pos); err != nil {
			return nil, err
		}
		if size += eventSize(&e.Event); size > v.maxReply && len(res.Entries) > 0 {
			res.More = true
			break
		}
		res.Entries = append(res.Entries, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sm: list parked: %w", err)
	}
	return res, nil
}

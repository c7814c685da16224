package sm

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/vmihailenco/msgpack/v5"
)

// Persistent subscriptions: their definitions, replicated checkpoints and
// parked events live in the store's own state machine, so that they move
// with the store's leadership and survive restarts. Delivery itself (who
// holds which event) is the leader's business and is not replicated; see
// services/storenode/delivery.
//
// Keys (prefix 'p'):
//
//	'p' 0x00 "seq"                 generation counter, bumped by every create
//	'p' 0x01 name                  PSub: definition, checkpoint, high-water, parked count
//	'p' 0x02 name 0x00 pos(8 BE)   PSubPark: a parked event of that subscription
//
// Subscription names are [A-Za-z0-9_.-], so 0x00 cleanly ends a name.

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

// Where a subscription starts (PSub.StartKind, stored): the values of the
// client protocol's start.
const (
	StartAtStart    = "start"    // position 0
	StartAtEnd      = "end"      // the store's next position at creation
	StartAtPosition = "position" // PSub.StartPosition
)

// PSub is a persistent subscription as stored.
type PSub struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Name          string
	Gen           uint64 // distinguishes a subscription from an earlier one of the same name
	Stream        string
	StreamPrefix  string
	Category      string
	EventTypes    []string
	StartKind     string // StartAtStart, StartAtEnd or StartAtPosition, as asked
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

// Filter returns the subscription's filter.
func (p *PSub) Filter() *Filter {
	return &Filter{Stream: p.Stream, StreamPrefix: p.StreamPrefix, Category: p.Category, EventTypes: p.EventTypes}
}

// PSubPark is a parked event as stored.
type PSubPark struct {
	_msgpack      struct{} `msgpack:",as_array"`
	Reason        string
	DeliveryCount uint64
	Parked        int64
}

// PSubCreate is the Aux of OpPSubCreate: the definition, validated by the
// proposer; the apply resolves start "end".
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

// EncodeAux encodes the Aux payload of a command.
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
		(a.StartKind != StartAtPosition || a.StartPosition == b.StartPosition) &&
		a.MaxInFlight == b.MaxInFlight && a.AckTimeoutMs == b.AckTimeoutMs &&
		a.MaxRetries == b.MaxRetries && a.Strategy == b.Strategy
}

func (a *applier) createPSub(c *Command, ts int64) (PSubCreateResult, error) {
	var cmd PSubCreate
	if err := decodeAux(c, &cmd); err != nil {
		return PSubCreateResult{}, err
	}
	def := cmd.Def
	old, err := a.psub(def.Name)
	if err != nil {
		return PSubCreateResult{}, err
	}
	if old != nil {
		if sameDefinition(old, &def) {
			return PSubCreateResult{StartPosition: old.StartPosition, Created: old.Created, Duplicate: true}, nil
		}
		return PSubCreateResult{}, codes.New(codes.SubscriptionAlreadyExists, "subscription %q exists with another definition", def.Name)
	}
	n, err := a.countPSubs()
	if err != nil {
		return PSubCreateResult{}, err
	}
	if cmd.MaxSubs > 0 && n >= cmd.MaxSubs {
		return PSubCreateResult{}, codes.New(codes.SubscriptionLimitReached, "the store holds %d subscriptions, the most it may", n)
	}
	var seq uint64
	if b, ok, err := get(a.b, keyPSubSeq); err != nil {
		return PSubCreateResult{}, err
	} else if ok {
		seq = decodeU64(b)
	}
	seq++
	a.b.Set(keyPSubSeq, u64(seq), nil)
	def.Gen = seq
	switch def.StartKind {
	case StartAtEnd:
		def.StartPosition = a.head.NextPosition
	case StartAtStart:
		def.StartPosition = 0
	}
	def.Created, def.Updated = ts, ts
	def.Checkpoint, def.High, def.Parked = def.StartPosition, def.StartPosition, 0
	a.b.Set(psubKey(def.Name), encode(&def), nil)
	return PSubCreateResult{StartPosition: def.StartPosition, Created: ts}, nil
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

func (a *applier) updatePSub(c *Command, ts int64) (PSubUpdateResult, error) {
	var cmd PSubUpdate
	if err := decodeAux(c, &cmd); err != nil {
		return PSubUpdateResult{}, err
	}
	p, err := a.psub(cmd.Name)
	if err != nil {
		return PSubUpdateResult{}, err
	}
	if p == nil {
		return PSubUpdateResult{}, psubNotFound(cmd.Name)
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
	return PSubUpdateResult{Updated: ts}, nil
}

func (a *applier) deletePSub(c *Command, _ int64) (PSubDeleteResult, error) {
	name := c.Stream // the subscription's name travels in Stream
	p, err := a.psub(name)
	if err != nil {
		return PSubDeleteResult{}, err
	}
	if p == nil {
		return PSubDeleteResult{}, psubNotFound(name)
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
		return PSubDeleteResult{}, fmt.Errorf("sm: iterate parked: %w", err)
	}
	for _, k := range keys {
		a.b.Delete(k, nil)
	}
	return PSubDeleteResult{}, nil
}

func (a *applier) progressPSub(c *Command, ts int64) (PSubProgressResult, error) {
	var cmd PSubProgress
	if err := decodeAux(c, &cmd); err != nil {
		return PSubProgressResult{}, err
	}
	p, err := a.psub(cmd.Name)
	if err != nil {
		return PSubProgressResult{}, err
	}
	if p == nil || p.Gen != cmd.Gen {
		return PSubProgressResult{}, psubNotFound(cmd.Name)
	}
	for _, pk := range cmd.Park {
		k := psubParkKey(p.Name, pk.Position)
		_, exists, err := get(a.b, k)
		if err != nil {
			return PSubProgressResult{}, err
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
			return PSubProgressResult{}, err
		}
		if exists {
			p.Parked--
			a.b.Delete(k, nil)
		}
	}
	p.Checkpoint = max(p.Checkpoint, cmd.Checkpoint)
	p.High = max(p.High, cmd.High, p.Checkpoint)
	a.b.Set(psubKey(p.Name), encode(p), nil)
	return PSubProgressResult{Checkpoint: p.Checkpoint}, nil
}

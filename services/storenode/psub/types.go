// Package psub is the delivery core of persistent subscriptions: the
// bookkeeping a store's leader keeps in memory for every subscription of the
// store (read-ahead, who holds which event until when, consumers, retries,
// parking, checkpoint and high-water mark). It does no I/O: the caller feeds
// it what it read, takes from it the deliveries to publish and the progress
// to propose, and tells it how the proposals went. Time comes from the clock
// given to New. See DESIGN.md and schemas/persistent-subscriptions.md.
package psub

import (
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
)

const (
	// Buffer and BufferBytes bound the outstanding (read, unsettled) events
	// of one subscription. 2048 rather than 512: lbpsub delivered 30–60%
	// more events/s pinned and up to 30% more round robin (docs/benchmarks-live.md);
	// the leader's memory per busy subscription stays under BufferBytes.
	Buffer      = 2048
	BufferBytes = 16 << 20
	// FlushEvery and FlushAcks: progress is due at most every FlushEvery,
	// or sooner once FlushAcks events were settled.
	FlushEvery = 100 * time.Millisecond
	FlushAcks  = 100
	// LeaseBeats: a consumer is gone after this many missed heartbeats.
	LeaseBeats = 3
	// HighReserve: the high-water mark is raised this far beyond what was
	// read, so that a subscription following the head of a busy store does
	// not cost a Raft round per read; the price is that after a leader
	// change up to this many positions may be marked redelivered needlessly.
	HighReserve = 1024
)

// Settings are a subscription's delivery settings.
type Settings struct {
	MaxInFlight int64 // per consumer
	AckTimeout  time.Duration
	MaxRetries  int64  // deliveries after the first before parking
	Strategy    string // wire.StrategyRoundRobin or wire.StrategyPinned
}

// Definition is what the core needs of a replicated subscription.
type Definition struct {
	Name       string
	Gen        uint64 // tells a subscription from an earlier one of the same name
	Settings   Settings
	Checkpoint uint64 // replicated checkpoint: delivery starts here
	High       uint64 // replicated high-water mark: events below may have been delivered
}

// Park is an event to park, as proposed.
type Park struct {
	Position      uint64
	Reason        string // wire.ParkedByNack or wire.ParkedByMaxRetries
	DeliveryCount uint64
}

// Progress is what must be replicated for one subscription: the caller
// proposes it and reports the outcome with Deliverer.Proposed.
type Progress struct {
	Name       string
	Gen        uint64
	Checkpoint uint64
	High       uint64
	Park       []Park
	Unpark     []uint64
	s          *sub // the subscription it was taken from
}

// Delivery is a message to publish to a consumer's deliver subject.
type Delivery struct {
	Subject string
	Message wire.Delivery
}

// Scan is the answer of one read-ahead: the matching events from the job's
// From on, the position to continue from, and the store's next position.
type Scan struct {
	Events []wire.RecordedEvent
	Next   uint64
	Head   uint64
}

// ReadJob asks the caller to read a subscription's events from From on, at
// most Room of them; Scanned and Accept advance it.
type ReadJob struct {
	Name string
	From uint64
	Room int
	s    *sub
}

// Parked is a parked event to replay, with its deliveries so far.
type Parked struct {
	Event         wire.RecordedEvent
	DeliveryCount uint64
}

// ReplayQuery is the first half of a replay: the caller reads the parked
// events of Name, leaving out Skip (the replays in progress), and hands
// them to Deliverer.Replay.
type ReplayQuery struct {
	Name string
	Skip map[uint64]bool
	s    *sub
}

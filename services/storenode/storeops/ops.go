// Package storeops serves the store operations (store.<store>.<op>) on the
// store's leader: one table, one entry per operation, each decoding its
// request with pkg/wire, serving it through the store's replica (proposals
// through its proposer, linearizable reads through Raft) and converting the
// state machine's answer to the client protocol. See DESIGN.md.
package storeops

import (
	"context"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/metrics"
	"github.com/logbookdb/logbook/services/storenode/replica"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// handler serves one operation's request on a store this node leads.
type handler func(o *Ops, ctx context.Context, s Store, data []byte) (any, error)

// table has one entry per store operation (the keys of wire.StoreOps):
// adding an operation is one entry here.
var table = map[string]handler{
	subjects.OpAppend:       appendEvents,
	subjects.OpDeleteStream: deleteStream,
	subjects.OpRead:         readStream,
	subjects.OpReadAll:      readAll,
	subjects.OpListStreams:  listStreams,
	subjects.OpStreamInfo:   streamInfo,

	subjects.OpSnapshotSave:   saveSnapshot,
	subjects.OpSnapshotRead:   readSnapshot,
	subjects.OpSnapshotList:   listSnapshots,
	subjects.OpSnapshotDelete: deleteSnapshot,

	subjects.OpPSubCreate: psubCreate,
	subjects.OpPSubUpdate: psubUpdate,
	subjects.OpPSubDelete: psubDelete,
	subjects.OpPSubList:   psubList,
	subjects.OpPSubInfo:   psubInfo,
	subjects.OpPSubParked: psubParked,
	subjects.OpPSubJoin:   psubJoin,
	subjects.OpPSubAck:    psubAck,
	subjects.OpPSubReplay: psubReplay,

	subjects.OpBackup:  backup,
	subjects.OpRestore: restore,
}

// Store is the replica an operation is served through (a *replica.Replica).
type Store interface {
	Spec() replica.Spec
	// Metrics is the store's series.
	Metrics() *metrics.Store
	// Submit proposes a command through the store's proposer.
	Submit(ctx context.Context, cmd sm.Command, size int) (sm.Result, error)
	// Read is a linearizable query.
	Read(ctx context.Context, q any) (any, error)
	// Follows reports whether another node leads the store now.
	Follows() bool
	// Restoring reports whether a restore into the store is in progress
	// (as applied here): it then serves nothing but restore.
	Restoring() bool
	// QuotaSet reports whether the store's state machine here had its
	// quota set (see replica.Spec.HasQuota).
	QuotaSet() bool
	// Touch records a request: a store in use, read or written, does not
	// go dormant (replica.Set, "Dormant stores").
	Touch()
}

// Delivery is the persistent-subscription delivery of the stores this node
// leads (a *delivery.Deliveries), by store id. Join, Ack and Replay answer
// unavailable while a store's delivery is starting.
type Delivery interface {
	Join(ctx context.Context, store string, req *wire.JoinRequest, heartbeatMs int64) (*wire.JoinReply, error)
	Ack(ctx context.Context, store string, req *wire.AckRequest, delayMs int64) (*wire.AckReply, error)
	Replay(ctx context.Context, store, subscription string, count int) (*wire.ReplayReply, error)
	// Live adds a subscription's delivery state to info, when this node delivers it.
	Live(store string, info *wire.SubscriptionInfo, gen uint64)
	// DefinitionsChanged makes the store's delivery reload the definitions.
	DefinitionsChanged(store string)
}

// Ops serves the operations of the stores this node leads.
type Ops struct {
	nc       *nats.Conn
	srv      *serve.Server
	delivery Delivery
	backups  backups // open backup sessions (backup.go)
	leading  leading // the stores served now, for Local (local.go)
}

// New returns the operations, served on nc with srv.
func New(nc *nats.Conn, srv *serve.Server, d Delivery) *Ops {
	return &Ops{nc: nc, srv: srv, delivery: d}
}

// Serve subscribes to the store's leader subjects, while this node leads
// it; stop unsubscribes.
//
// There is no queue group: every node that believes it leads the store gets
// a copy of each request. Normally that is one node. While leadership moves,
// or while a deposed leader is frozen (SIGSTOP, a long GC pause, a network
// cut that NATS has not noticed yet) and still subscribed, the real leader
// gets its copy too and answers; the gateway takes the first answer. A node
// that knows another leader serves nothing and answers not_written at once
// (the gateway sends the request again, to the new leader, within
// milliseconds). A request both copies serve (a leader deposed between
// receipt and proposal) is deduplicated like a resend: appends by event id
// (ids the storenode draws are derived from the gateway's request id), the
// other writes are idempotent or answered once by the first reply. See
// DESIGN.md.
func (o *Ops) Serve(s Store) (stop func(), err error) {
	spec := s.Spec()
	sub, err := o.nc.Subscribe(proto.LeaderWildcard(spec.ID), func(m *nats.Msg) {
		if s.Follows() {
			s.Metrics().RefusedAsFollower.Inc()
			if m.Reply != "" {
				wire.PublishError(func(r *nats.Msg) error {
					r.Header.Set(proto.HeaderRefused, proto.RefusedFollower)
					return m.RespondMsg(r)
				}, m.Reply, codes.New(codes.NotWritten, "another node leads store %q now", spec.ID))
			}
			return
		}
		s.Touch()
		_, op, ok := proto.ParseLeader(m.Subject)
		if !ok {
			serve.Respond(m, nil, codes.New(codes.UnknownOperation, "bad subject %q", wire.Truncate(m.Subject)))
			return
		}
		o.srv.Dispatch(m, spec.Timeout, func(ctx context.Context, m *nats.Msg) (any, error) {
			return o.Handle(withRequestID(ctx, m.Header.Get(proto.HeaderRequestID)), s, op, m.Data)
		})
	})
	if err != nil {
		return nil, err
	}
	// Tell the gateways: a request a deposed, dead or frozen leader took
	// can be sent again now, to this node (see proto.LeaderNotice).
	o.nc.Publish(proto.LeaderNotice(spec.ID), nil) // best effort: the gateway's attempt timeout covers a lost notice
	o.leading.add(spec.ID, s)
	return func() {
		o.leading.remove(spec.ID, s)
		sub.Unsubscribe()
		o.backups.endStore(spec.ID) // a backup is pinned to the leader
	}, nil
}

// Handle serves one request of operation op on store s.
func (o *Ops) Handle(ctx context.Context, s Store, op string, data []byte) (any, error) {
	h, ok := table[op]
	if !ok {
		return nil, codes.New(codes.UnknownOperation, "unknown operation %q", wire.Truncate(op))
	}
	var v any
	var err error
	if op != subjects.OpRestore && s.Restoring() {
		// The state machine refuses too; this also covers what the
		// delivery task answers without it (join, ack, replay).
		err = codes.New(codes.StoreRestoring, "store %q is being restored: it serves once the restore completes", s.Spec().ID)
	} else {
		v, err = h(o, ctx, s, data)
	}
	switch {
	case err != nil:
		s.Metrics().Error(op, err)
	case op == subjects.OpRead || op == subjects.OpReadAll:
		s.Metrics().Reads.Inc()
	}
	return v, err
}

// query is the handler of a read-only operation: decode the request, ask
// the state machine (linearizably) what ask makes of it, convert the answer
// to the protocol with conv.
func query[Req, T, R any](decode func([]byte, wire.Limits) (Req, error), ask func(Req) any, conv func(T) R) handler {
	return func(_ *Ops, ctx context.Context, s Store, data []byte) (any, error) {
		req, err := decode(data, s.Spec().Limits)
		if err != nil {
			return nil, err
		}
		v, err := s.Read(ctx, ask(req))
		return toWire(v, err, conv)
	}
}

// page is a request decoded with its count (or limit), resolved.
type page[Req any] struct {
	req Req
	n   int
}

// paged adapts a decoder that also resolves a count or limit to query.
func paged[Req any](decode func([]byte, wire.Limits) (Req, int, error)) func([]byte, wire.Limits) (page[Req], error) {
	return func(data []byte, l wire.Limits) (page[Req], error) {
		req, n, err := decode(data, l)
		return page[Req]{req, n}, err
	}
}

// propose submits cmd through the store's proposer and reads its result
// (or its error) as T.
func propose[T any](ctx context.Context, s Store, cmd sm.Command, size int) (T, error) {
	res, err := s.Submit(ctx, cmd, size)
	if err != nil {
		var zero T
		return zero, err
	}
	return sm.ResultAs[T](res)
}

package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/meta"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/serve"
	"github.com/logbookdb/logbook/services/storenode/sm"
	"github.com/nats-io/nats.go"
)

// Serve starts serving the registry subjects: the lookup and the reads on
// this node, the writes once (and while) it leads the meta shard. Formation
// calls it once no other cluster answers on this NATS.
func (l *Lifecycle) Serve() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.serving {
		return nil
	}
	lookup, err := l.cfg.NATS.QueueSubscribe(proto.RegistryLookup, proto.StorenodeQueue, l.onLookup)
	if err != nil {
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	reads, err := l.cfg.NATS.QueueSubscribe(proto.MetaReadWildcard, proto.StorenodeQueue, l.onMetaRead)
	if err != nil {
		lookup.Unsubscribe()
		return fmt.Errorf("storenode: subscribe: %w", err)
	}
	kept := l.run.Keep(lookup)
	l.serving = l.run.Keep(reads) && kept // both left already if closed
	wake(l.leader)
	return nil
}

// syncMetaLeader keeps _LB.meta.* (registry writes) subscribed exactly while
// this node leads the meta shard, like the store leader subjects.
func (l *Lifecycle) syncMetaLeader() bool {
	leads := l.cfg.Registry.Leads()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case leads && l.metaSub == nil && l.serving:
		sub, err := l.cfg.NATS.Subscribe(proto.MetaWildcard, l.onMeta)
		if err != nil {
			l.cfg.Logger.Error("cannot serve the registry", "err", err)
			break
		}
		if l.run.Keep(sub) {
			l.metaSub = sub
		}
	case !leads && l.metaSub != nil:
		l.run.Leave(l.metaSub)
		l.metaSub = nil
	}
	return true
}

// onMeta serves registry writes: stores.create, stores.remove and the
// writes in Config.Writes.
func (l *Lifecycle) onMeta(m *nats.Msg) {
	if l.cfg.Registry.Follows() {
		// Deposed while still subscribed (see storeops.Ops.Serve): the
		// gateway sends it again to the meta leader.
		serve.Respond(m, nil, codes.New(codes.NotWritten, "another node leads the store registry now"))
		return
	}
	op := proto.ParseMeta(m.Subject)
	l.cfg.Server.Dispatch(m, l.cfg.RequestTimeout, func(ctx context.Context, m *nats.Msg) (any, error) {
		switch op {
		case subjects.StoresCreate:
			return l.createStore(ctx, m.Data)
		case subjects.StoresRemove:
			return l.removeStore(ctx, m.Data)
		case subjects.StoresSetQuota:
			return l.setQuota(ctx, m.Data)
		}
		if h, ok := l.cfg.Writes[op]; ok {
			return h(ctx, m.Data)
		}
		return nil, codes.New(codes.UnknownOperation, "unknown store operation %q", wire.Truncate(op))
	})
}

func (l *Lifecycle) createStore(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeCreateStore(data, l.cfg.Limits)
	if err != nil {
		return nil, err
	}
	nodes, err := l.cfg.Registry.Nodes()
	if err != nil {
		return nil, err
	}
	settings, err := l.resolveSettings(req.Settings, len(nodes))
	if err != nil {
		return nil, err
	}
	release := func() {}
	if prev, err := l.cfg.Registry.Store(req.Store); err != nil {
		return nil, err
	} else if prev == nil {
		// A new store: it must fit on the nodes it would be placed on. The
		// room is held until the create is applied (then the registry
		// counts it).
		if release, err = l.reserve(req.Store, int(settings.ReplicationFactor)); err != nil {
			return nil, err
		}
	}
	r, err := l.cfg.Registry.Apply(ctx, meta.Command{Op: meta.OpCreate, Store: req.Store, Settings: settings, Origin: "api", MaxStores: int64(l.cfg.MaxStores), Restore: req.Restore})
	release()
	if err != nil {
		return nil, err
	}
	// Answer once the store serves (or the deadline nears): a client may
	// append right after create returns. Its leader reports it running in
	// the registry; each change the meta replica here applies wakes this
	// wait (MetaApplied), so no polling delay is added.
	s := r.Store
	if s.Status == meta.StatusCreating {
		s = l.awaitRunning(ctx, s)
	}
	return &wire.CreateStoreReply{Config: toConfig(s), Status: l.toStatus(s), Existed: r.Existed}, nil
}

// awaitRunning waits until the store s is no longer creating in the
// registry, or until 100 ms before ctx's deadline; it returns the store as
// last read.
func (l *Lifecycle) awaitRunning(ctx context.Context, s *meta.Store) *meta.Store {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(l.cfg.RequestTimeout)
	}
	wctx, cancel := context.WithDeadline(ctx, deadline.Add(-100*time.Millisecond))
	defer cancel()
	// A look every 250 ms as well, should a change not be signalled (a
	// lifecycle run without the meta replica's hook).
	again := time.NewTicker(250 * time.Millisecond)
	defer again.Stop()
	for {
		changed := l.applied.C()
		now, err := l.cfg.Registry.Store(s.ID)
		if err != nil || now == nil {
			return s
		}
		s = now
		if s.Status != meta.StatusCreating {
			return s
		}
		select {
		case <-changed:
		case <-again.C:
		case <-wctx.Done():
			return s
		}
	}
}

func (l *Lifecycle) removeStore(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeStoreRequest(data, l.cfg.Limits)
	if err != nil {
		return nil, err
	}
	r, err := l.cfg.Registry.Apply(ctx, meta.Command{Op: meta.OpRemove, Store: req.Store, Protected: l.cfg.DefaultStore})
	if err != nil {
		return nil, err
	}
	return &wire.RemoveStoreReply{Status: l.toStatus(r.Store)}, nil
}

// setQuota changes a store's quota in the registry (meta.OpSetQuota,
// meta command version 3); the store's leader then sets it in the store's
// state machine (reconcileQuota), which enforces it. The reply is the
// store's configuration.
func (l *Lifecycle) setQuota(ctx context.Context, data []byte) (any, error) {
	req, err := wire.DecodeSetQuota(data, l.cfg.Limits)
	if err != nil {
		return nil, err
	}
	s, err := l.existingStore(req.Store)
	if err != nil {
		return nil, err
	}
	settings := s.Settings
	if req.MaxEvents != nil {
		settings.MaxEvents = *req.MaxEvents
	}
	if req.MaxBytes != nil {
		settings.MaxBytes = *req.MaxBytes
	}
	r, err := l.cfg.Registry.Apply(ctx, meta.Command{Op: meta.OpSetQuota, Store: req.Store, Settings: settings})
	if err != nil {
		return nil, err
	}
	l.cfg.Logger.Info("store quota changed by stores.set_quota", "store", req.Store,
		"max_events", settings.MaxEvents, "max_bytes", settings.MaxBytes)
	l.Poke()
	// Answer once a replica reports the new quota in force (the store's
	// leader sets it within a reconciler pass), or as the deadline nears.
	want := sm.Quota{MaxEvents: uint64(settings.MaxEvents), MaxBytes: uint64(settings.MaxBytes)}
	deadline, _ := ctx.Deadline()
	for l.cfg.Usage != nil && time.Until(deadline) > 100*time.Millisecond {
		if u, ok := l.cfg.Usage(req.Store); ok && u.Quota == want {
			break
		}
		wait, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		<-wait.Done()
		cancel()
		if ctx.Err() != nil {
			break
		}
	}
	c := toConfig(r.Store)
	return &c, nil
}

// onMetaRead serves registry reads from this node's meta replica: list,
// status, config and the reads in Config.Reads. They reflect the registry
// as this replica has applied it, which may trail the leader by a moment.
func (l *Lifecycle) onMetaRead(m *nats.Msg) {
	op := proto.ParseMetaRead(m.Subject)
	l.cfg.Server.Dispatch(m, l.cfg.RequestTimeout, func(ctx context.Context, m *nats.Msg) (any, error) {
		if h, ok := l.cfg.Reads[op]; ok {
			return h(ctx, m.Data)
		}
		return l.metaRead(op, m.Data)
	})
}

func (l *Lifecycle) metaRead(op string, data []byte) (any, error) {
	if op == subjects.StoresList {
		return l.listStores(data)
	}
	req, err := wire.DecodeStoreRequest(data, l.cfg.Limits)
	if err != nil {
		return nil, err
	}
	s, err := l.existingStore(req.Store)
	if err != nil {
		return nil, err
	}
	switch op {
	case subjects.StoresStatus:
		st := l.toStatus(s)
		return &st, nil
	case subjects.StoresConfig:
		c := toConfig(s)
		return &c, nil
	}
	return nil, codes.New(codes.UnknownOperation, "unknown store operation %q", wire.Truncate(op))
}

func (l *Lifecycle) listStores(data []byte) (any, error) {
	req, limit, err := wire.DecodeListStores(data, l.cfg.Limits)
	if err != nil {
		return nil, err
	}
	stores, err := l.cfg.Registry.Stores()
	if err != nil {
		return nil, raft.Error(err)
	}
	i := sort.Search(len(stores), func(i int) bool { return stores[i].ID > req.After })
	reply := &wire.ListStoresReply{Stores: []wire.StoreStatus{}}
	for ; i < len(stores); i++ {
		if stores[i].Status == meta.StatusRestoring {
			continue // not there for clients until the restore completes
		}
		if len(reply.Stores) == limit {
			reply.Next = reply.Stores[limit-1].Store
			break
		}
		reply.Stores = append(reply.Stores, l.toStatus(stores[i]))
	}
	return reply, nil
}

// onLookup answers whether a store exists, its status, and whether it
// cannot have a leader now (fewer than a quorum of its replicas run). The
// body is the store id.
func (l *Lifecycle) onLookup(m *nats.Msg) {
	s, err := l.cfg.Registry.Store(string(m.Data))
	if err != nil {
		// Not "does not exist": this replica cannot tell now (shutting
		// down, no meta replica yet). The gateway asks again.
		serve.Respond(m, nil, err)
		return
	}
	var a proto.RegistryAnswer
	if s != nil {
		a = proto.RegistryAnswer{Exists: true, Status: s.Status, Replicas: len(s.Replicas)}
		a.NoQuorum, a.Running = l.cfg.Liveness.NoQuorum(s)
		if l.cfg.WakeStore != nil {
			// A gateway asks because no node serves the store's leader
			// subjects: the store may be dormant (its replicas, here or
			// elsewhere, are started), or a replica here may follow a
			// leader that died while the store was quiesced (woken, it
			// finds out at once instead of at the next node heartbeat).
			l.cfg.WakeStore(s.ID)
		}
	}
	serve.Respond(m, &a, nil)
}

// existingStore returns the registry entry of a store, or store_not_found.
func (l *Lifecycle) existingStore(id string) (*meta.Store, error) {
	s, err := l.cfg.Registry.Store(id)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, codes.New(codes.StoreNotFound, "store %q does not exist", id)
	}
	return s, nil
}

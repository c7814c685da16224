package client

import (
	"context"
	"fmt"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// Store lifecycle types, named for the client's users.
type (
	StoreSettings = wire.StoreSettings
	StoreConfig   = wire.StoreConfig
	StoreStatus   = wire.StoreStatus
	StoreUsage    = wire.StoreUsage
	StoreEvent    = wire.StoreEvent
)

// Stores is the store lifecycle API.
type Stores struct{ c *Client }

// Stores returns the store lifecycle API.
func (c *Client) Stores() *Stores { return &Stores{c: c} }

// lifecycle sends a stores.<op> request.
func (s *Stores) lifecycle(ctx context.Context, op string, req, out any) error {
	return (&Store{c: s.c}).send(ctx, subjects.Stores(op), op, req, out)
}

// Create creates a store; settings may be nil for the cluster's defaults.
// Creating a store that exists with the same settings succeeds again
// (CreateResult.Existed); with other settings it is ErrStoreAlreadyExists.
// It returns once the store serves requests, or with status "creating" if
// that takes longer than the request's deadline.
func (s *Stores) Create(ctx context.Context, id string, settings *StoreSettings) (*wire.CreateStoreReply, error) {
	var out wire.CreateStoreReply
	return &out, s.lifecycle(ctx, subjects.StoresCreate, &wire.CreateStoreRequest{Store: id, Settings: settings}, &out)
}

// Remove removes a store and, irreversibly, all its events. It returns once
// removal has started (status "removing"); the "removed" lifecycle event
// follows when every replica is gone.
func (s *Stores) Remove(ctx context.Context, id string) (*StoreStatus, error) {
	var out wire.RemoveStoreReply
	if err := s.lifecycle(ctx, subjects.StoresRemove, &wire.StoreRequest{Store: id}, &out); err != nil {
		return nil, err
	}
	return &out.Status, nil
}

// SetQuota changes a store's quota (an admin operation, stores.set_quota):
// a nil value keeps the current one, 0 removes that limit. It returns the
// store's configuration once the registry holds the new quota; the store's
// leader enforces it a moment later.
func (s *Stores) SetQuota(ctx context.Context, id string, maxEvents, maxBytes *int64) (*StoreConfig, error) {
	var out StoreConfig
	return &out, s.lifecycle(ctx, subjects.StoresSetQuota, &wire.SetQuotaRequest{Store: id, MaxEvents: maxEvents, MaxBytes: maxBytes}, &out)
}

// List lists stores in id order, a page at a time (limit 0: 100).
func (s *Stores) List(ctx context.Context, after string, limit int) (*wire.ListStoresReply, error) {
	var out wire.ListStoresReply
	return &out, s.lifecycle(ctx, subjects.StoresList, &wire.ListStoresRequest{After: after, Limit: count(limit)}, &out)
}

// Status returns one store's status.
//
// It asks store.<id>.status, which subject permissions can grant per store
// (docs/security.md); stores.status with the id in the payload still works.
func (s *Stores) Status(ctx context.Context, id string) (*StoreStatus, error) {
	return s.c.Store(id).Status(ctx)
}

// Config returns one store's effective configuration.
// It asks store.<id>.config (see Status).
func (s *Stores) Config(ctx context.Context, id string) (*StoreConfig, error) {
	return s.c.Store(id).Config(ctx)
}

// Status returns this store's registry entry: its status, settings and
// replicas (store.<store>.status).
func (s *Store) Status(ctx context.Context) (*StoreStatus, error) {
	var out StoreStatus
	return &out, s.request(ctx, subjects.StoreStatus, struct{}{}, &out)
}

// Config returns this store's effective configuration
// (store.<store>.config).
func (s *Store) Config(ctx context.Context) (*StoreConfig, error) {
	var out StoreConfig
	return &out, s.request(ctx, subjects.StoreConfig, struct{}{}, &out)
}

// SubscribeEvents calls fn for every lifecycle event of store ("" for all
// stores). Delivery is at most once; the registry (List, Status) is the truth.
// Stop with the returned subscription's Unsubscribe.
func (s *Stores) SubscribeEvents(store string, fn func(StoreEvent)) (*nats.Subscription, error) {
	subject := subjects.StoreEventsAll
	if store != "" {
		subject = subjects.StoreEvents(store)
	}
	sub, err := s.c.nc.Subscribe(subject, func(m *nats.Msg) {
		var ev StoreEvent
		if wire.UnmarshalReply(m.Data, &ev) == nil {
			fn(ev)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("logbook: subscribe: %w", err)
	}
	return sub, nil
}

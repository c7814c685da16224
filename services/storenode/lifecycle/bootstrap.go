package lifecycle

import (
	"fmt"
	"strings"

	"github.com/logbookdb/logbook/internal/proto"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/services/storenode/meta"
)

// bootstrap makes sure the default store and the static stores exist. Only
// the default store is required: a configured store that cannot be created
// (being removed, impossible settings) is reported on its status and in the
// log, and tried again on the next passes, without holding anything up.
func (l *Lifecycle) bootstrap() error {
	nodes, err := l.cfg.Registry.Nodes()
	if err != nil {
		return err
	}
	count := len(nodes)
	if count < l.cfg.InitialSize {
		// The first formation only: stores created before the initial
		// storenodes have all registered would get fewer replicas than the
		// cluster will have. Once the cluster holds a store it was formed,
		// and it may since have shrunk below InitialSize (nodes removed):
		// a restarted member must never wait for nodes that are gone.
		stores, err := l.cfg.Registry.Stores()
		if err != nil {
			return err
		}
		if len(stores) == 0 {
			return fmt.Errorf("%d of the %d initial storenodes have registered", count, l.cfg.InitialSize)
		}
	}
	wants := append([]proto.StaticStore{{ID: l.cfg.DefaultStore}}, l.cfg.StaticStores...)
	pending := false
	for i, w := range wants {
		l.mu.Lock()
		done := l.settled[w.ID]
		l.mu.Unlock()
		if done {
			continue
		}
		origin := "config"
		if i == 0 {
			origin = "default"
		}
		problem, err := l.ensureStore(w, origin, count)
		if err != nil {
			if i == 0 {
				return fmt.Errorf("default store %s: %w", w.ID, err)
			}
			pending = true
			continue
		}
		l.mu.Lock()
		if problem != "" {
			if l.mismatch[w.ID] != problem {
				l.cfg.Logger.Warn("store in configuration", "store", w.ID, "problem", problem)
			}
			l.mismatch[w.ID] = problem
		}
		l.settled[w.ID] = problem == "" || !strings.HasPrefix(problem, retryPrefix)
		pending = pending || !l.settled[w.ID]
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.bootstrapped = l.settled[l.cfg.DefaultStore]
	l.staticPending = pending
	l.mu.Unlock()
	return nil
}

// retryPrefix marks a configuration problem that may go away by itself.
const retryPrefix = "not created yet: "

// ensureStore creates a configured store unless the registry has it. It
// returns a problem to report (the store differs from the configuration, or
// cannot be created now) or an error when the registry cannot be reached.
func (l *Lifecycle) ensureStore(w proto.StaticStore, origin string, nodes int) (string, error) {
	settings, err := l.resolveSettings(&w.Settings, nodes)
	if err != nil {
		return "cannot be created: " + err.Error(), nil
	}
	if w.Settings.ReplicationFactor == nil {
		// The default replication factor follows the cluster's size when
		// the store is created; a store created when the cluster had another
		// size does not differ from the configuration.
		existing, err := l.cfg.Registry.Store(w.ID)
		if err != nil {
			return "", err
		}
		if existing != nil {
			settings.ReplicationFactor = existing.Settings.ReplicationFactor
		}
	}
	r, err := l.cfg.Registry.Propose(l.ctx, meta.Command{Op: meta.OpCreate, Store: w.ID, Settings: settings, Origin: origin, MaxStores: int64(l.cfg.MaxStores)})
	if err != nil {
		return "", err
	}
	switch codes.Code(r.Code) {
	case 0:
		return "", nil
	case codes.StoreAlreadyExists:
		return "configuration differs from the registry, which wins: " + describeDiff(settings, r.Store.Settings), nil
	case codes.StoreRemoving, codes.Unavailable, codes.NotWritten:
		return retryPrefix + r.Message, nil
	}
	return "cannot be created: " + r.Message, nil
}

func describeDiff(want, have meta.Settings) string {
	out := ""
	add := func(name string, w, h int64) {
		if w != h {
			out += fmt.Sprintf("%s: configured %d, stored %d; ", name, w, h)
		}
	}
	add("replication_factor", want.ReplicationFactor, have.ReplicationFactor)
	add("request_timeout_ms", want.RequestTimeoutMs, have.RequestTimeoutMs)
	add("max_event_size", want.MaxEventSize, have.MaxEventSize)
	add("max_append_events", want.MaxAppendEvents, have.MaxAppendEvents)
	add("max_read_count", want.MaxReadCount, have.MaxReadCount)
	add("max_events", want.MaxEvents, have.MaxEvents)
	add("max_bytes", want.MaxBytes, have.MaxBytes)
	if len(out) > 2 {
		out = out[:len(out)-2]
	}
	return out
}

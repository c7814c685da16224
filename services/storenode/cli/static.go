package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// fileConfig is the -config file:
//
//	{"stores": [{"id": "orders", "settings": {"request_timeout_ms": 10000, "max_bytes": 1073741824}}]}
type fileConfig struct {
	Stores []struct {
		ID       string       `json:"id"`
		Settings jsonSettings `json:"settings"`
	} `json:"stores"`
}

type jsonSettings struct {
	ReplicationFactor *int64 `json:"replication_factor"`
	RequestTimeoutMs  *int64 `json:"request_timeout_ms"`
	MaxEventSize      *int64 `json:"max_event_size"`
	MaxAppendEvents   *int64 `json:"max_append_events"`
	MaxReadCount      *int64 `json:"max_read_count"`
	MaxEvents         *int64 `json:"max_events"` // quota: events stored (0: no limit)
	MaxBytes          *int64 `json:"max_bytes"`  // quota: bytes of events stored (0: no limit)
}

// StaticStores reads the stores declared in the config file and in the
// comma-separated list; an id in both takes the file's settings.
func StaticStores(path, list string) ([]node.StaticStore, error) {
	var out []node.StaticStore
	seen := map[string]bool{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var fc fileConfig
		if err := dec.Decode(&fc); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		for _, s := range fc.Stores {
			if err := wire.ValidateStoreID(s.ID); err != nil {
				return nil, fmt.Errorf("config %s: %w", path, err)
			}
			if seen[s.ID] {
				return nil, fmt.Errorf("config %s: store %q declared twice", path, s.ID)
			}
			seen[s.ID] = true
			out = append(out, node.StaticStore{ID: s.ID, Settings: wire.StoreSettings(s.Settings)})
		}
	}
	for _, id := range strings.Split(list, ",") {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		if err := wire.ValidateStoreID(id); err != nil {
			return nil, fmt.Errorf("-stores: %w", err)
		}
		seen[id] = true
		out = append(out, node.StaticStore{ID: id})
	}
	return out, nil
}

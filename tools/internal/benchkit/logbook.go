package benchkit

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/services/logbook/embed"
)

// StartLogbook starts a single-node Logbook in this process (embedded NATS
// on a free port, storenode, gateway), its data under dir/logbook.
func StartLogbook(ctx context.Context, dir string, logger *slog.Logger) (*embed.Logbook, error) {
	return StartLogbookWith(ctx, dir, embed.Config{Logger: logger})
}

// StartLogbookWith is StartLogbook with cfg's settings (MaxStores,
// HibernateAfter, Logger, ...); its data directory, NATS port and Raft
// address are set here.
func StartLogbookWith(ctx context.Context, dir string, cfg embed.Config) (*embed.Logbook, error) {
	raft, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg.DataDir, cfg.NATSPort, cfg.RaftAddress = filepath.Join(dir, "logbook"), -1, raft
	lb, err := embed.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start logbook: %w", err)
	}
	return lb, nil
}

// AppendExpecting appends one event of data to stream, expecting its last
// revision to be last (or no stream when !exists), and returns the new last
// revision.
func AppendExpecting(ctx context.Context, st *client.Store, stream string, exists bool, last uint64, data []byte) (uint64, error) {
	exp := client.NoStream
	if exists {
		exp = client.Exact(last)
	}
	res, err := st.Append(ctx, stream, exp, client.Event{Type: "bench", Data: data})
	if err != nil {
		return 0, err
	}
	return res.LastRevision, nil
}

// LastRevision returns whether stream exists, and its last revision.
func LastRevision(ctx context.Context, st *client.Store, stream string) (bool, uint64, error) {
	info, err := st.StreamInfo(ctx, stream)
	return found(err, client.ErrStreamNotFound, func() uint64 { return info.LastRevision })
}

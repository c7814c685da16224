package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/logbookdb/logbook/pkg/backupfile"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

// Backup and restore (schemas/backup.md).

// Backup types, named for the client's users.
type (
	BackupHeader = wire.BackupHeader
	BackupCounts = wire.BackupCounts
)

// BackupProgress is how far a backup or a restore is: Events of Position
// events (the backup's position), Bytes of the file.
type BackupProgress struct {
	Position uint64
	Events   uint64
	Records  wire.BackupCounts
	Bytes    int64
}

// BackupSummary describes a backup written or restored.
type BackupSummary struct {
	Header   BackupHeader
	Counts   BackupCounts
	Bytes    int64
	Duration time.Duration
}

// Backup writes a backup of the store to w (the backup file format,
// pkg/backupfile): every event up to the position the backup is consistent
// to (Header.Position), every stream (deleted ones too), snapshots,
// persistent subscriptions with their checkpoints and parked events. The
// store keeps serving meanwhile; events appended after the backup began
// are not in it. It pulls one chunk at a time, so neither side holds more
// than a chunk. progress, if set, is called after each chunk. On error
// what w received is not a backup (it has no trailer).
func (s *Store) Backup(ctx context.Context, w io.Writer, progress func(BackupProgress)) (*BackupSummary, error) {
	start := time.Now()
	fw := backupfile.NewWriter(w)
	var reply wire.BackupReply
	if err := s.request(ctx, subjects.OpBackup, &wire.BackupRequest{}, &reply); err != nil {
		return nil, err
	}
	if reply.Header == nil {
		return nil, codes.New(codes.Internal, "the first backup reply has no header")
	}
	header := *reply.Header
	session := reply.Session
	cancel := func() {
		// Release the server's snapshot now rather than after its idle timeout.
		cctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
		defer stop()
		var r wire.BackupReply
		s.request(cctx, subjects.OpBackup, &wire.BackupRequest{Session: session, Seq: reply.Seq, Cancel: true}, &r)
	}
	if err := fw.WriteHeader(&header); err != nil {
		cancel()
		return nil, err
	}
	for {
		if reply.Chunk.Records() > 0 {
			if err := fw.WriteChunk(&reply.Chunk); err != nil {
				cancel()
				return nil, err
			}
		}
		if progress != nil {
			n := fw.Counts()
			progress(BackupProgress{Position: header.Position, Events: n.Events, Records: n, Bytes: fw.Bytes()})
		}
		if reply.Done {
			break
		}
		if err := ctx.Err(); err != nil {
			cancel()
			return nil, err
		}
		seq := reply.Seq + 1
		reply = wire.BackupReply{}
		if err := s.request(ctx, subjects.OpBackup, &wire.BackupRequest{Session: session, Seq: seq}, &reply); err != nil {
			if codes.As(err) == nil || codes.As(err).Code != codes.BackupSessionNotFound {
				cancel()
			}
			return nil, err
		}
		if reply.Seq != seq {
			cancel()
			return nil, codes.New(codes.Internal, "asked for backup chunk %d, got %d", seq, reply.Seq)
		}
	}
	if reply.Counts == nil || *reply.Counts != fw.Counts() {
		return nil, codes.New(codes.Internal, "the server counts %+v records, the client received %+v", reply.Counts, fw.Counts())
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return &BackupSummary{Header: header, Counts: fw.Counts(), Bytes: fw.Bytes(), Duration: time.Since(start)}, nil
}

// RestoreOptions are the options of a restore.
type RestoreOptions struct {
	// Settings of the new store; nil for the cluster's defaults.
	Settings *StoreSettings
	// Progress, if set, is called after each chunk restored.
	Progress func(BackupProgress)
	// SkipVerify skips the first pass that reads the whole file and checks
	// it before creating the store (for a reader that cannot seek back).
	SkipVerify bool
}

// Restore creates the store id from the backup file in r: it verifies the
// whole file first (when r is an io.Seeker and not opts.SkipVerify), so that
// a damaged, truncated or foreign file is refused before anything exists;
// creates the store in status restoring (invisible to clients); pushes the
// records chunk by chunk; and returns once the store is running with
// exactly the backup's events, positions, revisions, ids and timestamps,
// streams, snapshots and subscriptions. If anything fails after the store
// was created, the store is removed (and its leader removes it by itself
// if this process dies), and the error is returned.
func (s *Stores) Restore(ctx context.Context, r io.Reader, id string, opts RestoreOptions) (*BackupSummary, error) {
	start := time.Now()
	if err := wire.ValidateStoreID(id); err != nil {
		return nil, err
	}
	if seeker, ok := r.(io.Seeker); ok && !opts.SkipVerify {
		if _, _, err := backupfile.Verify(r); err != nil {
			return nil, fmt.Errorf("logbook: %w", err)
		}
		if _, err := seeker.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("logbook: restore: %w", err)
		}
	}
	fr := backupfile.NewReader(r)
	header, err := fr.Header()
	if err != nil {
		return nil, fmt.Errorf("logbook: %w", err)
	}
	var created wire.CreateStoreReply
	if err := s.lifecycle(ctx, subjects.StoresCreate, &wire.CreateStoreRequest{Store: id, Settings: opts.Settings, Restore: true}, &created); err != nil {
		return nil, err
	}
	if created.Existed {
		return nil, codes.New(codes.StoreRestoring, "store %q is already being restored", id)
	}
	n, err := s.push(ctx, fr, id, header, opts.Progress)
	if err == nil {
		err = s.waitRunning(ctx, id)
	}
	if err != nil {
		rctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if _, rerr := s.Remove(rctx, id); rerr != nil && !errors.Is(rerr, codes.ErrStoreNotFound) {
			return nil, fmt.Errorf("%w (and removing the half-restored store failed: %v; its leader removes it once idle)", err, rerr)
		}
		return nil, err
	}
	return &BackupSummary{Header: *header, Counts: n, Bytes: fr.Bytes(), Duration: time.Since(start)}, nil
}

// push sends the restore steps: the header, each chunk, the counts.
func (s *Stores) push(ctx context.Context, fr *backupfile.Reader, id string, h *wire.BackupHeader, progress func(BackupProgress)) (wire.BackupCounts, error) {
	st := s.c.Store(id)
	var reply wire.RestoreReply
	// The store was just created: a gateway may ask a storenode whose
	// registry replica has not applied the create yet (registry reads may
	// trail by a moment), which says store_not_found. Ask again, briefly.
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		err := st.request(ctx, subjects.OpRestore, &wire.RestoreRequest{Seq: 0, Header: h}, &reply)
		if err == nil {
			break
		}
		if !errors.Is(err, codes.ErrStoreNotFound) {
			return wire.BackupCounts{}, err
		}
		select {
		case <-ctx.Done():
			return wire.BackupCounts{}, err
		case <-time.After(wait):
		}
	}
	seq := int64(0)
	for {
		c, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wire.BackupCounts{}, fmt.Errorf("logbook: %w", err)
		}
		seq++
		reply = wire.RestoreReply{}
		if err := st.request(ctx, subjects.OpRestore, &wire.RestoreRequest{Seq: seq, Chunk: c}, &reply); err != nil {
			return wire.BackupCounts{}, err
		}
		if progress != nil {
			progress(BackupProgress{Position: h.Position, Events: reply.Restored.Events, Records: reply.Restored, Bytes: fr.Bytes()})
		}
	}
	n := fr.Counts()
	seq++
	reply = wire.RestoreReply{}
	if err := st.request(ctx, subjects.OpRestore, &wire.RestoreRequest{Seq: seq, Counts: &n}, &reply); err != nil {
		return wire.BackupCounts{}, err
	}
	if !reply.Completed {
		return wire.BackupCounts{}, codes.New(codes.Internal, "the last restore step did not complete the restore")
	}
	return n, nil
}

// waitRunning waits until the registry reports the restored store running
// (its leader reports it once the restore completed).
func (s *Stores) waitRunning(ctx context.Context, id string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.c.opts.timeout)
		defer cancel()
	}
	for {
		st, err := s.Status(ctx, id)
		if err != nil {
			return err
		}
		if st.Status == wire.StatusRunning || st.Status == wire.StatusDegraded {
			return nil
		}
		select {
		case <-ctx.Done():
			return codes.New(codes.Timeout, "the restored store %q is still %s", id, st.Status)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

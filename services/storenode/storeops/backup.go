package storeops

// Backup and restore (schemas/backup.md).
//
// A backup is a session on the store's leader: the first request opens an
// sm.Backup (one pinned Pebble snapshot, taken after a Raft read index) and
// each request pulls the next chunk from it. The server reads a chunk only
// when asked, so a slow client costs it one chunk held for a resend, never
// the store. A session ends with its last chunk, on cancel, after
// backupIdle without requests, or when this node stops leading the store.
//
// A restore is a sequence of OpRestore commands, proposed like appends:
// every check is in the replicated apply (sm/restore.go).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/version"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/raft"
	"github.com/logbookdb/logbook/services/storenode/sm"
)

// backupIdle ends a backup session its client stopped pulling from.
const backupIdle = time.Minute

// maxBackupChunk bounds the records of one backup reply (beyond it by at
// most one record, which max_event_size bounds).
const maxBackupChunk = 1 << 20

// backupSession is one open backup.
type backupSession struct {
	id    string
	store string

	mu    sync.Mutex // one request at a time
	b     *sm.Backup
	last  *wire.BackupReply // the last chunk sent, for a resend
	timer *time.Timer
}

// backups are the open backup sessions of the stores this node leads.
type backups struct {
	mu sync.Mutex
	m  map[string]*backupSession
}

func (bs *backups) get(id string) *backupSession {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.m[id]
}

func (bs *backups) add(s *backupSession) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.m == nil {
		bs.m = map[string]*backupSession{}
	}
	bs.m[s.id] = s
}

// end closes a session and forgets it.
func (bs *backups) end(s *backupSession) {
	bs.mu.Lock()
	if bs.m[s.id] == s {
		delete(bs.m, s.id)
	}
	bs.mu.Unlock()
	s.timer.Stop()
	s.b.Close()
}

// endStore ends every session of a store (its leadership moved).
func (bs *backups) endStore(store string) {
	bs.mu.Lock()
	var ended []*backupSession
	for _, s := range bs.m {
		if s.store == store {
			ended = append(ended, s)
		}
	}
	bs.mu.Unlock()
	for _, s := range ended {
		bs.end(s)
	}
}

// OpenBackups returns how many backup sessions are open (for tests and metrics).
func (o *Ops) OpenBackups() int {
	o.backups.mu.Lock()
	defer o.backups.mu.Unlock()
	return len(o.backups.m)
}

func backupChunkSize(l wire.Limits) int {
	return min(maxBackupChunk, l.MaxReplySize/4)
}

func backup(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	spec := s.Spec()
	req, err := wire.DecodeBackup(data, spec.Limits)
	if err != nil {
		return nil, err
	}
	if req.Session == "" {
		return o.openBackup(ctx, s)
	}
	sess := o.backups.get(req.Session)
	if sess == nil || sess.store != spec.ID {
		return nil, codes.New(codes.BackupSessionNotFound, "backup session %q is not open on this store's leader (expired, ended, or the leader changed): start the backup again", wire.Truncate(req.Session))
	}
	if req.Cancel {
		o.backups.end(sess)
		return &wire.BackupReply{Session: sess.id, Seq: req.Seq, Done: true}, nil
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.timer.Reset(backupIdle)
	switch req.Seq {
	case sess.last.Seq:
		return sess.last, nil // a resend
	case sess.last.Seq + 1:
	default:
		return nil, codes.New(codes.InvalidArgument, "backup chunk %d does not follow chunk %d", req.Seq, sess.last.Seq)
	}
	reply, err := o.nextChunk(sess, spec.Limits)
	if err != nil {
		o.backups.end(sess)
		return nil, err
	}
	reply.Seq = req.Seq
	sess.last = reply
	return reply, nil
}

func (o *Ops) openBackup(ctx context.Context, s Store) (any, error) {
	spec := s.Spec()
	b, err := raft.As[*sm.Backup](s.Read(ctx, sm.BackupOpen{Taken: time.Now().UnixNano(), ServerVersion: version.SemVer()}))
	if err != nil {
		return nil, err
	}
	var id [12]byte
	rand.Read(id[:]) // never fails (crypto/rand, Go ≥ 1.24)
	sess := &backupSession{id: hex.EncodeToString(id[:]), store: spec.ID, b: b}
	sess.timer = time.AfterFunc(backupIdle, func() { o.backups.end(sess) })
	sess.mu.Lock()
	defer sess.mu.Unlock()
	o.backups.add(sess)
	reply, err := o.nextChunk(sess, spec.Limits)
	if err != nil {
		o.backups.end(sess)
		return nil, err
	}
	h := b.Header
	h.Store = spec.ID
	reply.Header = &h
	sess.last = reply
	return reply, nil
}

// nextChunk reads the session's next chunk; the last one ends the session
// (kept for a resend until backupIdle).
func (o *Ops) nextChunk(sess *backupSession, l wire.Limits) (*wire.BackupReply, error) {
	c, done, err := sess.b.Next(backupChunkSize(l))
	if err != nil {
		return nil, err
	}
	reply := &wire.BackupReply{Session: sess.id, Chunk: c, Done: done}
	if done {
		n := sess.b.Counts()
		reply.Counts = &n
		sess.b.Close() // the snapshot is released; the reply stays for a resend
	}
	return reply, nil
}

func restore(o *Ops, ctx context.Context, s Store, data []byte) (any, error) {
	req, err := wire.DecodeRestore(data, s.Spec().Limits)
	if err != nil {
		return nil, err
	}
	aux, err := sm.EncodeAux(&sm.RestoreStep{Seq: req.Seq, Header: req.Header, Chunk: req.Chunk, Counts: req.Counts})
	if err != nil {
		return nil, err
	}
	out, err := propose[sm.RestoreResult](ctx, s, sm.Command{Op: sm.OpRestore, Aux: aux}, len(data))
	if err != nil {
		return nil, err
	}
	if out.Completed && !out.Duplicate && o.delivery != nil {
		// The subscriptions were restored: their delivery starts now.
		o.delivery.DefinitionsChanged(s.Spec().ID)
	}
	return &wire.RestoreReply{Seq: out.Seq, Restored: out.Restored, Completed: out.Completed, Duplicate: out.Duplicate}, nil
}

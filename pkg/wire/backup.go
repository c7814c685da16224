package wire

// Backup and restore of a store (contract: schemas/backup.md).
//
// A backup is a consistent, logical dump of one store: every event with its
// position, revision, id, type, payloads and timestamp; every stream's state
// (deleted streams included); aggregate snapshots; persistent-subscription
// definitions, checkpoints and parked events. It is taken from one Pebble
// snapshot on the store's leader and pulled chunk by chunk
// (store.<store>.backup): the server reads the next chunk only when the
// client asks for it, so a slow client never makes the server buffer more
// than one chunk. A restore (store.<store>.restore) pushes the same records,
// in the same order, into a store created for it (stores.create with
// restore set), which stays invisible to clients until the last request.
//
// The same records, framed and checksummed, are the backup file
// (pkg/backupfile).

// BackupFormat is the version of the backup records and of the backup file.
// A reader refuses any other with unsupported_backup_version.
const BackupFormat = 1

// BackupHeader describes a backup: what it is of, and the store position it
// is consistent to. It is the first record of a backup.
type BackupHeader struct {
	Format int    `msgpack:"format"`
	Store  string `msgpack:"store"` // the store backed up
	// Position is the store's next position when the backup was taken: the
	// backup holds exactly the events at positions 0 to Position-1.
	Position uint64 `msgpack:"position"`
	// LastTimestamp is the store's last commit timestamp (Unix ns): a
	// restored store's timestamps keep going up from it.
	LastTimestamp int64 `msgpack:"last_timestamp"`
	// SubscriptionGeneration is the store's persistent-subscription
	// generation counter, so that a restored store never reuses one.
	SubscriptionGeneration uint64 `msgpack:"subscription_generation"`
	// Taken is when the backup was taken (Unix ns, the leader's clock).
	Taken int64 `msgpack:"taken"`
	// ServerVersion is the version of the storenode that took it.
	ServerVersion string `msgpack:"server_version,omitempty"`
}

// BackupEvent is one event.
type BackupEvent struct {
	Position            uint64 `msgpack:"position"`
	ID                  string `msgpack:"id"` // a UUID, 36-character form
	Stream              string `msgpack:"stream"`
	Type                string `msgpack:"type"`
	Revision            uint64 `msgpack:"revision"`
	Timestamp           int64  `msgpack:"timestamp"`
	Data                []byte `msgpack:"data,omitempty"` // absent: empty
	DataContentType     string `msgpack:"data_content_type,omitempty"`
	Metadata            []byte `msgpack:"metadata,omitempty"` // absent: empty
	MetadataContentType string `msgpack:"metadata_content_type,omitempty"`
}

// BackupStream is one stream's state.
type BackupStream struct {
	Stream        string `msgpack:"stream"`
	LastRevision  uint64 `msgpack:"last_revision"`
	Count         uint64 `msgpack:"count"`
	FirstPosition uint64 `msgpack:"first_position"`
	LastPosition  uint64 `msgpack:"last_position"`
	Created       int64  `msgpack:"created"`
	Updated       int64  `msgpack:"updated"`
	Deleted       bool   `msgpack:"deleted"`
}

// BackupSnapshot is one aggregate snapshot.
type BackupSnapshot struct {
	Stream              string `msgpack:"stream"`
	Version             uint64 `msgpack:"version"`
	Type                string `msgpack:"type"`
	Data                []byte `msgpack:"data,omitempty"` // absent: empty
	DataContentType     string `msgpack:"data_content_type,omitempty"`
	Metadata            []byte `msgpack:"metadata,omitempty"` // absent: empty
	MetadataContentType string `msgpack:"metadata_content_type,omitempty"`
	Created             int64  `msgpack:"created"`
}

// BackupSubscription is one persistent subscription: its definition and
// its replicated progress.
type BackupSubscription struct {
	Name          string   `msgpack:"name"`
	Generation    uint64   `msgpack:"generation"`
	Stream        string   `msgpack:"stream,omitempty"`
	StreamPrefix  string   `msgpack:"stream_prefix,omitempty"`
	Category      string   `msgpack:"category,omitempty"`
	EventTypes    []string `msgpack:"event_types,omitempty"`
	Start         string   `msgpack:"start"` // start, end or position, as created
	StartPosition uint64   `msgpack:"start_position"`
	MaxInFlight   int64    `msgpack:"max_in_flight"`
	AckTimeoutMs  int64    `msgpack:"ack_timeout_ms"`
	MaxRetries    int64    `msgpack:"max_retries"`
	Strategy      string   `msgpack:"strategy"`
	Created       int64    `msgpack:"created"`
	Updated       int64    `msgpack:"updated"`
	Checkpoint    uint64   `msgpack:"checkpoint"`
	High          uint64   `msgpack:"high"`
	Parked        uint64   `msgpack:"parked"` // how many parked events follow in BackupParked records
}

// BackupParked is one parked event of a persistent subscription.
type BackupParked struct {
	Subscription  string `msgpack:"subscription"`
	Position      uint64 `msgpack:"position"`
	Reason        string `msgpack:"reason"`
	DeliveryCount uint64 `msgpack:"delivery_count"`
	Parked        int64  `msgpack:"parked"` // when (Unix ns)
}

// BackupChunk is one chunk of records. A backup's chunks hold, in order,
// the events (by position), the streams (by name), the snapshots (by
// stream, version), the subscriptions (by name) and the parked events (by
// subscription, position); one chunk may hold several kinds, each kind in
// its own field, and a kind never comes back once a later one started.
type BackupChunk struct {
	Events        []BackupEvent        `msgpack:"events,omitempty"`
	Streams       []BackupStream       `msgpack:"streams,omitempty"`
	Snapshots     []BackupSnapshot     `msgpack:"snapshots,omitempty"`
	Subscriptions []BackupSubscription `msgpack:"subscriptions,omitempty"`
	Parked        []BackupParked       `msgpack:"parked,omitempty"`
}

// Records returns the number of records in the chunk.
func (c *BackupChunk) Records() int {
	return len(c.Events) + len(c.Streams) + len(c.Snapshots) + len(c.Subscriptions) + len(c.Parked)
}

// BackupCounts counts the records of a backup, by kind; it closes a backup
// (the file's trailer, the restore's last request) so that a truncated one
// is noticed.
type BackupCounts struct {
	Events        uint64 `msgpack:"events"`
	Streams       uint64 `msgpack:"streams"`
	Snapshots     uint64 `msgpack:"snapshots"`
	Subscriptions uint64 `msgpack:"subscriptions"`
	Parked        uint64 `msgpack:"parked"`
}

// Add counts the records of c.
func (n *BackupCounts) Add(c *BackupChunk) {
	n.Events += uint64(len(c.Events))
	n.Streams += uint64(len(c.Streams))
	n.Snapshots += uint64(len(c.Snapshots))
	n.Subscriptions += uint64(len(c.Subscriptions))
	n.Parked += uint64(len(c.Parked))
}

// BackupRequest pulls the next chunk of a backup. Subject:
// store.<store>.backup. The first request has no session: it opens one on
// the store's leader (a consistent view of the store, after a Raft read
// index) and returns the header with the first chunk. Each following
// request names the session and the sequence number of the chunk it wants:
// the one after the last received, or the last received again (a resend,
// answered with the same chunk). Cancel ends the session at once (else it
// ends with its last chunk, or after a minute without requests).
type BackupRequest struct {
	Session string `msgpack:"session,omitempty"`
	Seq     int64  `msgpack:"seq,omitempty"`
	Cancel  bool   `msgpack:"cancel,omitempty"`
}

// BackupReply is one chunk. Header is set on chunk 0, Counts on the last
// one (Done).
type BackupReply struct {
	Session string        `msgpack:"session"`
	Seq     int64         `msgpack:"seq"`
	Header  *BackupHeader `msgpack:"header,omitempty"`
	Chunk   BackupChunk   `msgpack:"chunk"`
	Done    bool          `msgpack:"done,omitempty"`
	Counts  *BackupCounts `msgpack:"counts,omitempty"`
}

// RestoreRequest pushes one step of a restore. Subject:
// store.<store>.restore, on a store created with restore set. Seq 0 carries
// the Header and begins the restore (refused with store_not_empty unless
// the store is empty); each following request carries the next Seq with a
// Chunk; the last one carries Counts, which must match what was restored,
// and completes it: the store then becomes running. A request with the Seq
// of the last one applied is answered again without effect (a resend).
type RestoreRequest struct {
	Seq    int64         `msgpack:"seq"`
	Header *BackupHeader `msgpack:"header,omitempty"`
	Chunk  *BackupChunk  `msgpack:"chunk,omitempty"`
	Counts *BackupCounts `msgpack:"counts,omitempty"`
}

// RestoreReply acknowledges a restore request: what the store holds so far.
type RestoreReply struct {
	Seq       int64        `msgpack:"seq"`
	Restored  BackupCounts `msgpack:"restored"`
	Completed bool         `msgpack:"completed,omitempty"`
	Duplicate bool         `msgpack:"duplicate,omitempty"`
}

// BackupTrailer closes a backup file (pkg/backupfile): the counts of its
// records and the SHA-256 of every byte of the file before the trailer's
// frame, so that a reader tells a whole file from a truncated or altered one.
type BackupTrailer struct {
	Counts BackupCounts `msgpack:"counts"`
	SHA256 string       `msgpack:"sha256"` // lower-case hex
}

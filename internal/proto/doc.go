// Package proto is Logbook's internal protocol: the NATS subjects and
// messages that gateways and storenodes exchange among themselves (the
// `_LB.` namespace). It is not part of the client contract (pkg/ and
// schemas/): it may change between releases, and clients must never use it.
// Go's internal rule keeps it out of reach of any module outside
// github.com/logbookdb/logbook.
package proto

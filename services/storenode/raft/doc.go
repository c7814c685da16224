// Package raft is the storenode's narrow door to dragonboat: one Host per
// process, owning the NodeHost, with the few calls the storenode makes, each
// under a deadline, each failing with a Logbook error (pkg/codes) whose code
// says whether the command may have been applied. Nothing else in the
// storenode imports dragonboat, except the state machines, which implement
// its interfaces. See DESIGN.md.
package raft

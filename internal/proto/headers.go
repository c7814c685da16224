package proto

// HeaderRequestID carries the gateway's id of one client request on
// _LB.leader.* and _LB.meta.* messages: the same on every copy the gateway
// sends of that request (a resend after an attempt timeout, a retry after
// not_written). A storenode derives the ids of events sent without one from
// it, so that two copies of an append are deduplicated like a client's
// resend with the same event ids.
const HeaderRequestID = "Lb-Request-Id"

// HeaderRefused marks a not_written answer from a storenode that knows
// another node leads the store (value RefusedFollower): it did nothing, but
// the leader may have received its own copy of the same request (there is
// no queue group on the leader subjects). The gateway resends at once only
// requests a second copy cannot harm; the others wait for the leader's
// answer first (forward.go).
const HeaderRefused = "Lb-Refused"

// RefusedFollower is HeaderRefused's value for a follower's refusal.
const RefusedFollower = "follower"

package proto

// HeaderRequestID carries the gateway's id of one client request on
// _LB.leader.* and _LB.meta.* messages: the same on every copy the gateway
// sends of that request (a resend after an attempt timeout, a retry after
// not_written). A storenode derives the ids of events sent without one from
// it, so that two copies of an append are deduplicated like a client's
// resend with the same event ids.
const HeaderRequestID = "Lb-Request-Id"

package storeops

import (
	"context"
	"strconv"

	"github.com/google/uuid"
)

// requestIDKey is the context key of the gateway's request id.
type requestIDKey struct{}

// withRequestID records the gateway's request id (proto.HeaderRequestID) in
// ctx; an empty id records nothing.
func withRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// eventIDNamespace is the UUID namespace of the event ids a storenode
// derives from request ids.
var eventIDNamespace = uuid.MustParse("6f1c3a52-3d0e-4b8e-9a57-2d4c1f0b7e90")

// newEventID is the id of the i-th event of an append that came without
// one: derived from the request id when the gateway sent one (a resend or
// a second copy of the request gets the same ids, and so is recognised as
// a duplicate), random otherwise.
func newEventID(ctx context.Context, i int) uuid.UUID {
	id, _ := ctx.Value(requestIDKey{}).(string)
	if id == "" {
		return uuid.New()
	}
	return uuid.NewSHA1(eventIDNamespace, []byte(id+"/"+strconv.Itoa(i)))
}

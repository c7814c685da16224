package wire

import (
	"strconv"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/nats-io/nats.go"
)

// Headers of an error reply, as nats.go micro defines them.
const (
	HeaderError     = "Nats-Service-Error"
	HeaderErrorCode = "Nats-Service-Error-Code"
)

// ErrorMsg builds the parts of an error reply: the headers and the body.
func ErrorMsg(err error) (description, code string, body []byte) {
	e := codes.As(err)
	if e == nil {
		e = &codes.Error{Code: codes.Internal, Message: "no error given"}
	}
	body, mErr := Marshal(ErrorReply{Code: int(e.Code), Name: e.Code.Name(), Message: e.Message, CurrentRevision: e.CurrentRevision})
	if mErr != nil {
		body = nil
	}
	return e.Error(), strconv.Itoa(int(e.Code)), body
}

// ErrorFromMsg returns the *codes.Error carried by a reply, or nil when the
// reply is not an error.
func ErrorFromMsg(m *nats.Msg) *codes.Error {
	if m.Header == nil {
		return nil
	}
	codeStr := m.Header.Get(HeaderErrorCode)
	if codeStr == "" {
		return nil
	}
	var er ErrorReply
	if len(m.Data) > 0 && UnmarshalReply(m.Data, &er) == nil && er.Code != 0 {
		return &codes.Error{Code: codes.Code(er.Code), Message: er.Message, CurrentRevision: er.CurrentRevision}
	}
	n, err := strconv.Atoi(codeStr)
	if err != nil {
		return &codes.Error{Code: codes.Internal, Message: m.Header.Get(HeaderError)}
	}
	return &codes.Error{Code: codes.Code(n), Message: m.Header.Get(HeaderError)}
}

package wire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/nats-io/nats.go"
)

// Headers of an error reply, as nats.go micro defines them.
const (
	HeaderError     = "Nats-Service-Error"
	HeaderErrorCode = "Nats-Service-Error-Code"
)

// MaxErrorMessage bounds the message of an error reply, in bytes: an error
// may quote a client's input, and an answer over the NATS server's
// max_payload is no answer at all.
const MaxErrorMessage = 1024

// ErrorMsg builds the parts of an error reply: the headers and the body. The
// message is cut to MaxErrorMessage, and in the description header its
// control characters (which a header cannot carry) become spaces.
func ErrorMsg(err error) (description, code string, body []byte) {
	e := codes.As(err)
	if e == nil {
		e = &codes.Error{Code: codes.Internal, Message: "no error given"}
	}
	msg := clip(e.Message, MaxErrorMessage)
	body, mErr := Marshal(ErrorReply{Code: int(e.Code), Name: e.Code.Name(), Message: msg, CurrentRevision: e.CurrentRevision})
	if mErr != nil {
		body = nil
	}
	description = (&codes.Error{Code: e.Code, Message: strings.Map(headerSafe, msg)}).Error()
	return description, strconv.Itoa(int(e.Code)), body
}

func headerSafe(r rune) rune {
	if unicode.IsControl(r) {
		return ' '
	}
	return r
}

// ErrorReplyMsg is the error reply to subject.
func ErrorReplyMsg(subject string, err error) *nats.Msg {
	desc, code, body := ErrorMsg(err)
	return &nats.Msg{Subject: subject, Data: body,
		Header: nats.Header{HeaderError: []string{desc}, HeaderErrorCode: []string{code}}}
}

// PublishError answers subject with err through publish. When the reply
// cannot be published it falls back to the code alone, a few dozen bytes,
// so that the requester gets a typed answer rather than waiting for its
// deadline; it returns an error only when that fails too.
func PublishError(publish func(*nats.Msg) error, subject string, err error) error {
	pErr := publish(ErrorReplyMsg(subject, err))
	if pErr == nil {
		return nil
	}
	c := codes.Internal
	if e := codes.As(err); e != nil {
		c = e.Code
	}
	short := &codes.Error{Code: c, Message: "the full error reply could not be sent"}
	if err := publish(ErrorReplyMsg(subject, short)); err != nil {
		return fmt.Errorf("wire: publish error reply: %w", err)
	}
	return nil
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

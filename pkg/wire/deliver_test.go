package wire_test

import (
	"testing"

	"github.com/logbookdb/logbook/pkg/wire"
)

// A deliver subject is an inbox: _INBOX.<...> or a private prefix
// _INBOX_<name>.<...>; nothing else, so that deliveries never reach an
// internal or another client's request subject.
func TestDeliverSubjectIsAnInbox(t *testing.T) {
	for _, ok := range []string{"_INBOX.a", "_INBOX.a.b", "_INBOX_acme.x", "_INBOX_acme-eu_2.x.y"} {
		if err := wire.ValidateDeliverSubject(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"_INBOX", "_INBOX.", "_INBOX_.x", "_INBOXacme.x", "_INBOX_a.b.x.", "_INBOX_a b.x", "_INBOX_a*.x",
		"_LB.leader.s.append", "store.s.append", "_INBOX.a.*", "_INBOX.a.>", "events.s.x"} {
		if err := wire.ValidateDeliverSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

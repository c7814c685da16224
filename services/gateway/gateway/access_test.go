package gateway

import (
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/nats-io/nats.go"
)

func TestParseAccounts(t *testing.T) {
	a, err := ParseAccounts(" ACME=acme, acme-test ; OPS=* ;")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || len(a["ACME"]) != 2 || a["ACME"][1] != "acme-test" || a["OPS"][0] != AllStores {
		t.Fatalf("parsed %v", a)
	}
	if a, err := ParseAccounts(""); err != nil || len(a) != 0 {
		t.Fatalf("empty: %v, %v", a, err)
	}
	for _, bad := range []string{"ACME", "=acme", "ACME=", "ACME=Bad.Store", "ACME=a;ACME=b", "OPS=*,acme", "A.B=acme"} {
		if _, err := ParseAccounts(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestAccountsCheck(t *testing.T) {
	a, _ := ParseAccounts("ACME=acme;OPS=*")
	acme, ops, other := caller{known: true, account: "ACME"}, caller{known: true, account: "OPS"}, caller{known: true, account: "X"}
	cases := []struct {
		a       Accounts
		c       caller
		store   string
		refused bool
	}{
		{a, acme, "acme", false},
		{a, acme, "beta", true},
		{a, acme, "", true}, // stores.*, cluster.*
		{a, ops, "beta", false},
		{a, ops, "", false},
		{a, other, "acme", true},
		{a, caller{}, "beta", false}, // Logbook's own account: NATS decides
		{nil, other, "", false},      // no configuration: no check
	}
	for i, tc := range cases {
		err := tc.a.check(tc.c, tc.store)
		if (err != nil) != tc.refused || (err != nil && codes.As(err).Code != codes.Forbidden) {
			t.Errorf("case %d (%+v, %q): %v", i, tc.c, tc.store, err)
		}
	}
}

// The identity is taken only from a request that crossed a service import:
// a client of Logbook's own account sets the header in vain.
func TestCallerOf(t *testing.T) {
	info := `{"acc":"ACME","user":"acme","name":"app","rtt":1000}`
	m := &nats.Msg{Reply: "_R_.abc123.XYZ789", Header: nats.Header{HeaderRequestInfo: []string{info}}}
	if c := callerOf(m); !c.known || c.account != "ACME" || c.user != "acme" || c.name != "app" {
		t.Fatalf("through an import: %+v", c)
	}
	forged := &nats.Msg{Reply: "_INBOX.abc.def", Header: nats.Header{HeaderRequestInfo: []string{info}}}
	if c := callerOf(forged); c.known {
		t.Fatalf("a header on an inbox reply was believed: %+v", c)
	}
	for _, bad := range []*nats.Msg{
		{Reply: "_R_.abc.XYZ"},
		{Reply: "_R_.abc.XYZ", Header: nats.Header{HeaderRequestInfo: []string{"not json"}}},
		{Reply: "_R_.abc.XYZ", Header: nats.Header{HeaderRequestInfo: []string{`{"user":"x"}`}}},
		{Reply: "_R_.>", Header: nats.Header{HeaderRequestInfo: []string{info}}},
	} {
		if c := callerOf(bad); c.known {
			t.Errorf("%+v: known caller %+v", bad, c)
		}
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

const tenantUsage = `usage: lbctl tenant <user> <store>[,<store>...] [--inbox PREFIX] [--json]

Prints the NATS permissions that give the user exactly its stores (see
docs/security.md): a nats-server configuration block for the user, and the
equivalent nsc command for JWT accounts. It needs no server.
`

// tenantPermissions is the permissions document of one tenant (--json).
type tenantPermissions struct {
	User        string   `json:"user"`
	Stores      []string `json:"stores"`
	InboxPrefix string   `json:"inbox_prefix"`
	Publish     []string `json:"publish_allow"`
	Subscribe   []string `json:"subscribe_allow"`
}

// tenant prints the NATS permissions of a tenant of the given stores.
func tenant(args []string) error {
	fs := flag.NewFlagSet("tenant", flag.ContinueOnError)
	inbox := fs.String("inbox", "", "the tenant's reply subject prefix (default _INBOX_<user>)")
	jsonFlag(fs)
	fs.Usage = func() { fmt.Print(tenantUsage); fs.PrintDefaults() }
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		fs.Usage()
		return errors.New("tenant: want a user and its stores")
	}
	user, stores := pos[0], strings.Split(pos[1], ",")
	if user == "" || strings.ContainsAny(user, " .*>\t\n\"") {
		return fmt.Errorf("tenant: %q is not a NATS user name this command writes", user)
	}
	for _, s := range stores {
		if err := wire.ValidateStoreID(s); err != nil {
			return fmt.Errorf("tenant: %w", err)
		}
	}
	if *inbox == "" {
		*inbox = "_INBOX_" + user
	}
	if *inbox == "_INBOX" || !wire.IsInboxSubject(*inbox+".x") {
		return fmt.Errorf("tenant: reply prefix %q: want _INBOX_<name> (letters, digits, _ and -), a prefix of the tenant's own (pick one with --inbox)", *inbox)
	}
	pub, sub := subjects.TenantPermissions(stores, *inbox)
	p := tenantPermissions{User: user, Stores: stores, InboxPrefix: *inbox, Publish: pub, Subscribe: sub}
	if asJSON {
		return printJSON(p)
	}
	q := func(list []string) string { return `"` + strings.Join(list, `", "`) + `"` }
	fmt.Printf(`# Logbook tenant %q: stores %s (docs/security.md).
# In the authorization { users = [ ... ] } block of nats-server.conf:
{
  user: %q
  password: $%s_PASSWORD
  permissions: {
    publish: { allow: [%s] }
    subscribe: { allow: [%s] }
  }
}
# Its clients connect with the reply prefix %s: nats.CustomInboxPrefix(%q)
# in Go (client.WithNATSOptions), -nats-inbox-prefix %s for lbctl.
# With JWT accounts (nsc), the same permissions:
#   nsc edit user %s --allow-pub '%s' --allow-sub '%s'
`, user, strings.Join(stores, ", "), user, strings.ToUpper(strings.NewReplacer("-", "_").Replace(user)), q(pub), q(sub),
		*inbox, *inbox, *inbox, user, strings.Join(pub, ","), strings.Join(sub, ","))
	return nil
}

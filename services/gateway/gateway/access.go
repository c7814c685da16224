package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
)

// HeaderRequestInfo is the header nats-server adds to a request that crosses
// a service import from another account: JSON naming the requester's
// account ("acc") and, when the import shares it ("share": true), its user
// and connection name. The server writes it over any value the client set.
const HeaderRequestInfo = "Nats-Request-Info"

// AllStores, as an account's only store in Accounts, lets the account use
// every store and the stores.* and cluster.* operations: an operators'
// account.
const AllStores = "*"

// Accounts maps the NATS accounts that may reach Logbook through a service
// import to the stores each may use (or AllStores). When it is not empty,
// the gateway checks every request that crossed an import (its reply
// subject is NATS's `_R_.…` and it carries Nats-Request-Info): an account
// not listed, a store not among the account's, or a stores.*/cluster.*
// operation of an account not listed with AllStores is refused with
// forbidden. Requests from Logbook's own account (no import) are not
// checked: NATS's permissions are the first line there. Empty: no check.
type Accounts map[string][]string

// ParseAccounts parses "ACCOUNT=store,store;OPS=*" (spaces ignored).
func ParseAccounts(s string) (Accounts, error) {
	a := Accounts{}
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, list, ok := strings.Cut(entry, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t.*>") {
			return nil, fmt.Errorf("tenant accounts: %q is not ACCOUNT=store[,store...] or ACCOUNT=*", entry)
		}
		if _, dup := a[name]; dup {
			return nil, fmt.Errorf("tenant accounts: account %s is listed twice", name)
		}
		var stores []string
		for _, st := range strings.Split(list, ",") {
			st = strings.TrimSpace(st)
			if st == AllStores {
				stores = append(stores, st)
				continue
			}
			if err := wire.ValidateStoreID(st); err != nil {
				return nil, fmt.Errorf("tenant accounts: account %s: %w", name, err)
			}
			stores = append(stores, st)
		}
		if slices.Contains(stores, AllStores) && len(stores) > 1 {
			return nil, fmt.Errorf("tenant accounts: account %s: * goes alone", name)
		}
		a[name] = stores
	}
	return a, nil
}

// caller is who sent a request, as far as the gateway can tell.
type caller struct {
	// known: the request crossed a service import and NATS named its account.
	known   bool
	account string
	user    string // only when the import shares it
	name    string // the connection's name, likewise
}

// callerOf reads the identity NATS attached to m. It trusts the header
// only on a request whose reply subject NATS made for a service import: a
// client of Logbook's own account can set any header, but then its reply
// subject is its own inbox (or it gets no answer).
func callerOf(m *nats.Msg) caller {
	if m.Header == nil || !subjects.IsServiceImportReply(m.Reply) {
		return caller{}
	}
	v := m.Header.Get(HeaderRequestInfo)
	if v == "" {
		return caller{}
	}
	var info struct {
		Account string `json:"acc"`
		User    string `json:"user"`
		Name    string `json:"name"`
	}
	if err := json.Unmarshal([]byte(v), &info); err != nil || info.Account == "" {
		return caller{}
	}
	return caller{known: true, account: info.Account, user: info.User, name: info.Name}
}

// logAttrs describes the caller for a log line. An unknown caller is
// described by the first token of its reply subject (a tenant's private
// inbox prefix names it; _INBOX names nobody).
func (c caller) logAttrs(m *nats.Msg) []any {
	if !c.known {
		prefix, _, _ := strings.Cut(m.Reply, ".")
		return []any{"caller", "unknown", "reply_prefix", wire.Truncate(prefix)}
	}
	attrs := []any{"caller_account", wire.Truncate(c.account)}
	if c.user != "" {
		attrs = append(attrs, "caller_user", wire.Truncate(c.user))
	}
	if c.name != "" {
		attrs = append(attrs, "caller_name", wire.Truncate(c.name))
	}
	return attrs
}

// check refuses a request of a known caller that Accounts does not allow.
// store is the store of a store.<store>.<op> subject, "" for stores.* and
// cluster.*.
func (a Accounts) check(c caller, store string) error {
	if len(a) == 0 || !c.known {
		return nil
	}
	allowed, listed := a[c.account]
	switch {
	case !listed:
		return codes.New(codes.Forbidden, "account %s may not use Logbook through a service import", wire.Truncate(c.account))
	case slices.Contains(allowed, AllStores):
		return nil
	case store == "":
		return codes.New(codes.Forbidden, "account %s may not use the store lifecycle or cluster operations", wire.Truncate(c.account))
	case !slices.Contains(allowed, store):
		return codes.New(codes.Forbidden, "account %s may not use store %s", wire.Truncate(c.account), store)
	}
	return nil
}

// auditTarget says whether a request is an administrative operation the
// gateway logs, and names it and its target. Backups and restores are
// logged when they begin and when they end or are cancelled, not chunk by
// chunk.
func auditTarget(m *nats.Msg) (op, target string, ok bool) {
	if op, ok := subjects.ParseStores(m.Subject); ok && subjects.IsStoresWrite(op) {
		var r wire.StoreRequest // create and remove both name the store
		wire.UnmarshalReply(m.Data, &r)
		return "stores." + op, wire.Truncate(r.Store), true
	}
	if op, ok := subjects.ParseCluster(m.Subject); ok && subjects.IsClusterWrite(op) {
		switch op {
		case subjects.ClusterRemoveNode:
			var r wire.RemoveNodeRequest
			wire.UnmarshalReply(m.Data, &r)
			return "cluster." + op, fmt.Sprintf("node %d", r.NodeID), true
		case subjects.ClusterVersion:
			var r wire.ClusterVersionRequest
			if len(m.Data) > 0 {
				wire.UnmarshalReply(m.Data, &r)
			}
			if r.Hold == nil {
				return "", "", false // a report changes nothing
			}
			return "cluster." + op, fmt.Sprintf("hold=%t", *r.Hold), true
		}
	}
	store, op, ok := subjects.ParseStore(m.Subject)
	if !ok {
		return "", "", false
	}
	switch op {
	case subjects.OpBackup:
		var r struct {
			Session string `msgpack:"session"`
			Cancel  bool   `msgpack:"cancel"`
		}
		wire.UnmarshalReply(m.Data, &r)
		if r.Session == "" || r.Cancel {
			return "store." + op, store, true
		}
	case subjects.OpRestore:
		var r struct {
			Seq    int64 `msgpack:"seq"`
			Counts any   `msgpack:"counts"`
		}
		wire.UnmarshalReply(m.Data, &r)
		if r.Seq == 0 || r.Counts != nil {
			return "store." + op, store, true
		}
	}
	return "", "", false
}

// audit logs an administrative operation with its outcome and caller. It
// never logs a request's body beyond the target.
func (g *Gateway) audit(m *nats.Msg, c caller, ce *codes.Error) {
	op, target, ok := auditTarget(m)
	if !ok {
		return
	}
	outcome := "ok"
	if ce != nil {
		outcome = ce.Code.Name()
	}
	attrs := append([]any{"op", op, "target", target, "outcome", outcome}, c.logAttrs(m)...)
	g.cfg.Logger.Info("gateway: admin operation", attrs...)
}

// refused logs a request the account check refused.
func (g *Gateway) refused(m *nats.Msg, c caller, err error) {
	attrs := append([]any{"subject", wire.Truncate(m.Subject), "error", err}, c.logAttrs(m)...)
	g.cfg.Logger.Warn("gateway: request refused for the caller's account", attrs...)
}

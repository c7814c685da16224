package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestNodeIDFromHostname(t *testing.T) {
	for host, want := range map[string]int{
		"logbook-storenode-0":                    1,
		"logbook-storenode-2":                    3,
		"storenode-41":                           42,
		"logbook-storenode-1.logbook-storenode":  2,
		"logbook-storenode-10.svc.cluster.local": 11,
	} {
		got, err := NodeIDFromHostname(host)
		if err != nil || got != want {
			t.Errorf("NodeIDFromHostname(%q) = %d, %v; want %d", host, got, err, want)
		}
	}
	for _, host := range []string{"", "storenode", "storenode-", "storenode-x", "storenode-01", "storenode-1a", "storenode-+1", "a-x.b-2"} {
		if got, err := NodeIDFromHostname(host); err == nil {
			t.Errorf("NodeIDFromHostname(%q) = %d, want an error", host, got)
		}
	}
}

// parse registers the flags on a fresh flag set and parses args.
func parse(t *testing.T, args ...string) (*Flags, error) {
	t.Helper()
	fs := flag.NewFlagSet("storenode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Register(fs, t.TempDir())
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		return f, err
	}
	*f.NodeID = int(cfg.NodeID) // what Config decided
	return f, nil
}

func TestNodeIDFromOrdinal(t *testing.T) {
	t.Setenv("LOGBOOK_NODE_ID", "")
	t.Setenv("LOGBOOK_NODE_ID_FROM_ORDINAL", "")
	host, hostErr := "logbook-storenode-2", error(nil)
	old := hostname
	hostname = func() (string, error) { return host, hostErr }
	t.Cleanup(func() { hostname = old })

	id := func(t *testing.T, args ...string) int {
		t.Helper()
		f, err := parse(t, args...)
		if err != nil {
			t.Fatalf("Config with %v: %v", args, err)
		}
		return *f.NodeID
	}
	mustFail := func(t *testing.T, want string, args ...string) {
		t.Helper()
		if _, err := parse(t, args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Config with %v: %v, want an error with %q", args, err, want)
		}
	}

	// Off: -node-id or its default.
	if got := id(t); got != 1 {
		t.Errorf("default node id %d, want 1", got)
	}
	if got := id(t, "-node-id", "5"); got != 5 {
		t.Errorf("-node-id 5 gave %d", got)
	}
	// On by flag or environment: ordinal 2 is node 3.
	if got := id(t, "-node-id-from-ordinal"); got != 3 {
		t.Errorf("-node-id-from-ordinal on %s gave %d, want 3", host, got)
	}
	t.Setenv("LOGBOOK_NODE_ID_FROM_ORDINAL", "1")
	if got := id(t); got != 3 {
		t.Errorf("LOGBOOK_NODE_ID_FROM_ORDINAL=1 on %s gave %d, want 3", host, got)
	}
	// An explicit node id and the ordinal exclude each other.
	mustFail(t, "exclude each other", "-node-id", "3")
	t.Setenv("LOGBOOK_NODE_ID", "3")
	mustFail(t, "exclude each other")
	t.Setenv("LOGBOOK_NODE_ID", "")
	// A hostname without an ordinal, or none at all, is refused.
	host = "storenode"
	mustFail(t, "does not end with -<ordinal>")
	hostErr = errors.New("no hostname")
	mustFail(t, "no hostname")
	// Off again: the hostname is not consulted.
	t.Setenv("LOGBOOK_NODE_ID_FROM_ORDINAL", "false")
	if got := id(t); got != 1 {
		t.Errorf("LOGBOOK_NODE_ID_FROM_ORDINAL=false gave %d, want 1", got)
	}
}

// The Raft TLS files come all three or not at all, from flags or from
// LOGBOOK_RAFT_TLS_*; a partial set is refused, naming what is missing.
func TestRaftTLSFlagsGoTogether(t *testing.T) {
	for _, v := range []string{"LOGBOOK_RAFT_TLS_CA", "LOGBOOK_RAFT_TLS_CERT", "LOGBOOK_RAFT_TLS_KEY"} {
		t.Setenv(v, "")
	}
	f, err := parse(t, "-raft-tls-ca", "ca.pem", "-raft-tls-cert", "node.pem", "-raft-tls-key", "node-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := f.Config()
	if cfg.RaftTLS.CAFile != "ca.pem" || cfg.RaftTLS.CertFile != "node.pem" || cfg.RaftTLS.KeyFile != "node-key.pem" {
		t.Fatalf("RaftTLS = %+v", cfg.RaftTLS)
	}
	if f, err = parse(t); err != nil {
		t.Fatal(err)
	}
	if cfg, _ = f.Config(); cfg.RaftTLS.Enabled() {
		t.Fatalf("RaftTLS = %+v without flags", cfg.RaftTLS)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-raft-tls-ca", "ca.pem"}, "certificate and key are missing"},
		{[]string{"-raft-tls-cert", "node.pem", "-raft-tls-key", "node-key.pem"}, "CA is missing"},
	} {
		if _, err := parse(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "-raft-tls-ca, -raft-tls-cert and -raft-tls-key go together") {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	t.Setenv("LOGBOOK_RAFT_TLS_KEY", "node-key.pem")
	if _, err := parse(t, "-raft-tls-ca", "ca.pem"); err == nil || !strings.Contains(err.Error(), "certificate is missing") {
		t.Errorf("a CA flag and a key variable: %v, want the certificate missing", err)
	}
}

// -proposers reaches the node's configuration, and is bounded.
func TestProposersFlag(t *testing.T) {
	t.Setenv("LOGBOOK_PROPOSERS", "")
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 4}, {[]string{"-proposers", "1"}, 1}, {[]string{"-proposers", "64"}, 64}} {
		f, err := parse(t, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := f.Config(); err != nil || cfg.Proposers != c.want {
			t.Fatalf("%v: Proposers %d %v, want %d", c.args, cfg.Proposers, err, c.want)
		}
	}
	for _, bad := range []string{"0", "65"} {
		f, err := parse(t, "-proposers", bad)
		if err == nil {
			_, err = f.Config()
		}
		if err == nil || !strings.Contains(err.Error(), "-proposers") {
			t.Fatalf("-proposers %s: %v", bad, err)
		}
	}
}

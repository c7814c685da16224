package benchkit

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Module paths of the peer whose version every report names.
const (
	natsServerModule = "github.com/nats-io/nats-server/v2"
	natsGoModule     = "github.com/nats-io/nats.go"
)

// ModuleVersion is the version of module path built into this binary, read
// from its build information (so the reports name what actually ran, not
// what a comment says); "unknown" when the binary has no such information.
func ModuleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version + " (replacing " + d.Version + ")"
			}
			return d.Version
		}
	}
	return "unknown"
}

// NATSServerVersion is the nats-server library this binary embeds (the
// JetStream every tool compares against).
func NATSServerVersion() string { return ModuleVersion(natsServerModule) }

// NATSGoVersion is the nats.go client library this binary uses.
func NATSGoVersion() string { return ModuleVersion(natsGoModule) }

// JetStream's fsync settings that the tools compare against.
const (
	// SyncAlways is `sync_interval: always`: every message fsynced before
	// its PubAck — durable, the peer Logbook's guarantee matches.
	SyncAlways = "always"
	// SyncDefault is JetStream's default: the file store is fsynced every
	// 2 minutes (server/opts.go defaultSyncInterval); an acknowledged
	// message may still be only in the page cache of every replica.
	SyncDefault = "default"
)

// SyncSettings parses a comma-separated list of JetStream sync settings
// (SyncAlways, SyncDefault).
func SyncSettings(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case SyncAlways, SyncDefault:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("-jetstream: %q is neither %q nor %q", f, SyncAlways, SyncDefault)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-jetstream: no setting given")
	}
	return out, nil
}

// JetStreamName is the name under which the tools report JetStream with
// sync setting sync: "js-always", "js-default".
func JetStreamName(sync string) string { return "js-" + sync }

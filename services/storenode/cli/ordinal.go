package cli

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Node ids from a StatefulSet's pod ordinal: pods are named <set>-0,
// <set>-1, … and that name is their hostname, so with -node-id-from-ordinal
// (env LOGBOOK_NODE_ID_FROM_ORDINAL=1) pod <set>-N runs as node N+1 without
// a shell or an init container to compute it (see deploy/k8s).

// hostname is os.Hostname, replaced in tests.
var hostname = os.Hostname

// NodeIDFromHostname returns ordinal+1 for a hostname ending in -<ordinal>
// (a domain after the first dot is ignored).
func NodeIDFromHostname(host string) (int, error) {
	name, _, _ := strings.Cut(host, ".")
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return 0, fmt.Errorf("hostname %q does not end with -<ordinal> like a StatefulSet pod's", host)
	}
	ordinal, err := strconv.Atoi(name[i+1:])
	if err != nil || ordinal < 0 || name[i+1:] != strconv.Itoa(ordinal) {
		return 0, fmt.Errorf("hostname %q does not end with -<ordinal> like a StatefulSet pod's", host)
	}
	return ordinal + 1, nil
}

// envBool reports whether the environment variable holds a true value
// (1, t, true, …, as strconv.ParseBool).
func envBool(name string) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && v
}

// nodeID is the node id the flags give: -node-id, or the one derived from
// the hostname with -node-id-from-ordinal, which excludes an explicit
// -node-id (flag or LOGBOOK_NODE_ID).
func (f *Flags) nodeID() (int, error) {
	if f.NodeIDFromOrdinal == nil || !*f.NodeIDFromOrdinal {
		return *f.NodeID, nil
	}
	explicit := os.Getenv("LOGBOOK_NODE_ID") != ""
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "node-id" })
	}
	if explicit {
		return 0, fmt.Errorf("-node-id (or LOGBOOK_NODE_ID) and -node-id-from-ordinal exclude each other")
	}
	host, err := hostname()
	if err != nil {
		return 0, fmt.Errorf("-node-id-from-ordinal: %w", err)
	}
	id, err := NodeIDFromHostname(host)
	if err != nil {
		return 0, fmt.Errorf("-node-id-from-ordinal: %w", err)
	}
	return id, nil
}

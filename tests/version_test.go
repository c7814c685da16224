package tests

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/version"
)

// The gateway ($SRV.INFO) and the storenode (its heartbeats, in the cluster
// view) report the same version: this build's, from pkg/version.
func TestOneVersion(t *testing.T) {
	in := startLogbook(t)
	msg, err := rawRequest(t, in, "$SRV.INFO.logbook", nil)
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Version string }
	if err := json.Unmarshal(msg.Data, &info); err != nil || info.Version != version.SemVer() {
		t.Fatalf("gateway version %q (%v), want %q; info %s", info.Version, err, version.SemVer(), msg.Data)
	}
	eventually(t, 10*time.Second, func() error {
		v, err := in.Client.View(ctxT(t))
		if err != nil {
			return err
		}
		if len(v.Nodes) != 1 || v.Nodes[0].Version != version.Version {
			return fmt.Errorf("nodes %+v, want one of version %q", v.Nodes, version.Version)
		}
		return nil
	})
}

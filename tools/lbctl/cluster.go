package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
)

// clusterCmd serves `lbctl cluster view|health|remove-node|version`.
func clusterCmd(ctx context.Context, c *client.Client, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lbctl cluster view|health [--json] | remove-node <id> --yes | version [--hold|--release]")
	}
	fs := newFlags("cluster " + args[0])
	yes := fs.Bool("yes", false, "confirm remove-node")
	hold := fs.Bool("hold", false, "version: hold the cluster version where it is (an upgrade you may roll back)")
	release := fs.Bool("release", false, "version: let the cluster version rise again (finalize the upgrade)")
	nargs := 0
	if args[0] == "remove-node" {
		nargs = 1
	}
	pos, err := parseAnywhere(fs, args[1:], nargs)
	if err != nil {
		return err
	}
	switch args[0] {
	case "view":
		v, err := c.View(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(v)
		}
		printView(v)
		return nil
	case "health":
		h, err := c.Health(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(h)
		}
		fmt.Printf("%s (answered by node %d)\n", strings.ToUpper(h.Status), h.AnsweredBy)
		for _, p := range h.Problems {
			fmt.Println("  -", p)
		}
		if h.Status == wire.HealthCritical {
			os.Exit(3)
		}
		return nil
	case "remove-node":
		if !*yes {
			return errors.New("usage: lbctl cluster remove-node <id> --yes (the node leaves for good; its replicas move to other nodes)")
		}
		id, err := strconv.ParseUint(pos[0], 10, 64)
		if err != nil {
			return fmt.Errorf("node id: %w", err)
		}
		v, err := c.RemoveNode(ctx, id)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(v)
		}
		fmt.Printf("node %d is leaving; `lbctl cluster view` shows its replicas moving, then drops it\n", id)
		return nil
	case "version":
		var h *bool
		switch {
		case *hold && *release:
			return errors.New("cluster version: --hold or --release, not both")
		case *hold:
			h = hold
		case *release:
			f := false
			h = &f
		}
		v, err := c.ClusterVersion(ctx, h)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(v)
		}
		fmt.Printf("cluster version: store commands %d, registry commands %d", v.Active.StoreCommand, v.Active.MetaCommand)
		if v.Held {
			fmt.Print(" (held)")
		}
		fmt.Println()
		if s := v.Supported; s != nil {
			fmt.Printf("every storenode supports: store commands %d, registry commands %d\n", s.StoreCommand, s.MetaCommand)
		} else {
			fmt.Println("every storenode supports: unknown (a registered storenode is not heard)")
		}
		return nil
	}
	return fmt.Errorf("unknown cluster command %q (view, health, remove-node, version)", args[0])
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // subjects hold '>'
	return enc.Encode(v)
}

func printView(v *client.ClusterView) {
	fmt.Printf("cluster %s (uid %s), registry leader: node %d, answered by node %d\n", v.Cluster, v.UID, v.MetaLeader, v.AnsweredBy)
	if cv := v.ClusterVersion; cv != nil {
		fmt.Printf("cluster version: store commands %d, registry commands %d\n", cv.StoreCommand, cv.MetaCommand)
	}
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tRAFT ADDRESS\tHEALTH\tLAST SEEN\tMETA\tLEADS\tREPLICAS\tVERSION\tCMD STORE/META\tFORMAT\tDATA DIR")
	for _, n := range v.Nodes {
		role := n.MetaRole
		if n.MetaLeader {
			role += " (leader)"
		}
		if n.Leaving {
			role += " leaving"
		}
		if n.Joining {
			role += " joining"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%dms\t%s\t%d\t%d\t%s\t%s/%s\t%s\t%s\n", n.ID, n.RaftAddress, n.Health, n.LastSeenMs, role,
			n.Leads, n.Replicas, orDash(n.Version), versionOrDash(n.StoreCommandVersion), versionOrDash(n.MetaCommandVersion),
			versionOrDash(n.DataFormat), n.DataDir)
	}
	w.Flush()
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tSHARD\tSTATUS\tHEALTH\tLEADER\tREPLICAS (RUNNING)")
	for _, s := range v.Stores {
		moves := ""
		for _, m := range s.Moves {
			moves += fmt.Sprintf(" moving %d→%d", m.From, m.To)
		}
		var off []string
		for _, r := range s.ReplicaStates {
			if r.State != wire.ReplicaRunning {
				off = append(off, fmt.Sprintf("%d %s", r.Node, r.State))
			}
		}
		running := fmt.Sprint(s.ReplicasUp)
		if len(off) > 0 {
			running += "; " + strings.Join(off, ", ")
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%v (%s)%s\n", s.Store, s.Shard, s.Status, s.Health, s.Leader, s.Replicas, running, moves)
	}
	w.Flush()
	if len(v.Drift) > 0 {
		fmt.Println("\nconfiguration drift:")
		for _, d := range v.Drift {
			var vals []string
			for _, dv := range d.Values {
				vals = append(vals, fmt.Sprintf("node %d: %s", dv.Node, dv.Value))
			}
			fmt.Printf("  - %s: %s [%s]\n", d.Kind, d.Detail, strings.Join(vals, "; "))
		}
	}
}

// orDash is s, or "-" for what a node did not report (a down node, an
// older storenode).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func versionOrDash(v uint32) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

package cluster

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// foreignMemory is how long a storenode of another cluster stays reported.
const foreignMemory = 10 * time.Minute

// Foreign remembers the storenodes of other clusters seen on this NATS
// server (asking to form or join, or heartbeating); the cluster view reports
// them as drift for a while. Its zero value is ready to use.
type Foreign struct {
	mu    sync.Mutex
	nodes map[string]foreignNode
}

type foreignNode struct {
	Cluster     string
	NodeID      uint64
	RaftAddress string
	Seen        time.Time
}

// Note records a storenode of another cluster, seen now.
func (f *Foreign) Note(cluster string, node uint64, raftAddress string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nodes == nil {
		f.nodes = map[string]foreignNode{}
	}
	f.nodes[fmt.Sprintf("%s/%d/%s", cluster, node, raftAddress)] = foreignNode{cluster, node, raftAddress, time.Now()}
}

// recent returns the nodes seen within foreignMemory of now, by node id,
// and forgets the others.
func (f *Foreign) recent(now time.Time) []foreignNode {
	f.mu.Lock()
	var out []foreignNode
	for k, n := range f.nodes {
		if now.Sub(n.Seen) > foreignMemory {
			delete(f.nodes, k)
			continue
		}
		out = append(out, n)
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/logbookdb/logbook/services/storenode/node"
)

// healthHandler serves:
//
//	/healthz  200 unless the node refuses to serve (e.g. another cluster's name)
//	/readyz   200 once the node is a cluster member and the registry has a leader
//	/cluster  the cluster view as JSON (same content as the cluster.view request)
//	/health   the cluster health as JSON; 200 ok/warning, 503 critical
//	/metrics  the node's metrics, Prometheus exposition format
func healthHandler(n *node.Node) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", n.MetricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Fatal(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := n.Fatal(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		v, err := n.ClusterView(ctx)
		if !n.Member() || err != nil || v.MetaLeader == 0 {
			http.Error(w, "not a cluster member with a registry leader yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/cluster", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		v, err := n.ClusterView(ctx)
		writeJSON(w, v, err, http.StatusOK)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		h, err := n.ClusterHealth(ctx)
		status := http.StatusOK
		if err == nil && h.Status == wire.HealthCritical {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, h, err, status)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any, err error, status int) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

package raft

import (
	"testing"

	"github.com/lni/goutils/stringutil"
)

// Validate gives the answers of dragonboat's own check, on the first call
// and on every later one (when valid addresses are remembered).
func TestValidateAddresses(t *testing.T) {
	var f tcpFactory
	addrs := []string{"127.0.0.1:7001", "node-2.logbook:7001", "[::1]:7001", "127.0.0.1", "no port", "", "host:99999", "a..b:1"}
	valid := 0
	for range 3 {
		for _, addr := range addrs {
			want := stringutil.IsValidAddress(addr)
			if got := f.Validate(addr); got != want {
				t.Fatalf("Validate(%q) = %v, dragonboat says %v", addr, got, want)
			}
			if want {
				valid++
			}
		}
	}
	if valid == 0 || valid == 3*len(addrs) {
		t.Fatalf("%d valid answers: the cases test nothing", valid)
	}
}

// BenchmarkValidate is what dragonboat's transport does for every message
// batch received: validate the sender's address.
func BenchmarkValidate(b *testing.B) {
	var f tcpFactory
	for range b.N {
		if !f.Validate("storenode-2.logbook.svc:7001") {
			b.Fatal("refused")
		}
	}
}

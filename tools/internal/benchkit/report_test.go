package benchkit

import (
	"testing"
	"time"
)

func TestThroughputAndFormats(t *testing.T) {
	out := Outcome{Lat: Latencies{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, Errors: 1, Elapsed: time.Second}
	tp := out.Throughput()
	if tp.Ops != 3 || tp.Errors != 1 || tp.PerSec != 3 || tp.P50us != 2000 || tp.MaxUs != 3000 {
		t.Fatalf("%+v", tp)
	}
	if FmtUs(1500) != "1.50ms" || FmtUs(999) != "999µs" || FmtUs(2.5e6) != "2.50s" {
		t.Fatal("FmtUs")
	}
	if FmtRatio(Ratio(3, 2)) != "1.50x" || FmtRatio(Ratio(1, 0)) != "-" {
		t.Fatal("ratios")
	}
}

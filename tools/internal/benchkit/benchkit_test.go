package benchkit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	l := Latencies{5, 1, 4, 2, 3}
	l.Sort()
	if l.Percentile(0.5) != 3 || l.Percentile(1) != 5 || l.Percentile(0.01) != 1 {
		t.Fatalf("percentiles of %v", l)
	}
	if Median([]time.Duration{4, 1, 3, 2}) != 2 || Median(nil) != 0 {
		t.Fatal("median")
	}
}

func TestRunCountsSuccessesAndErrors(t *testing.T) {
	out := Run(context.Background(), 3, time.Now().Add(50*time.Millisecond), func(ctx context.Context, k, j int) error {
		time.Sleep(time.Millisecond)
		if k == 0 && j%2 == 1 {
			return errors.New("odd")
		}
		return nil
	})
	if out.Errors == 0 || out.FirstError == nil || len(out.Lat) == 0 || out.Elapsed < 50*time.Millisecond {
		t.Fatalf("%+v", out)
	}
}

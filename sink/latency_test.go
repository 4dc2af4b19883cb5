package sink

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
	for i := 1; i <= 100; i++ {
		h.Observe(time.Duration(i) * time.Millisecond)
	}
	h.Observe(time.Hour) // beyond the last bound: counted in the last bucket
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.01, 2 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.25 {
			t.Errorf("Quantile(%v) = %v, want within 25%% above %v", tc.q, got, tc.want)
		}
	}
	if h.Count() != 101 {
		t.Errorf("count %d", h.Count())
	}
	bounds, counts := h.Buckets()
	var sum uint64
	for i, c := range counts {
		sum += c
		if i > 0 && bounds[i] <= bounds[i-1] {
			t.Fatalf("bounds not increasing at %d", i)
		}
	}
	if sum != 101 || counts[len(counts)-1] != 1 {
		t.Errorf("bucket counts sum %d, last %d", sum, counts[len(counts)-1])
	}
}

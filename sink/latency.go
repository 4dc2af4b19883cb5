package sink

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram counts durations in buckets that grow by a quarter each, from
// 100 µs to about 3 minutes, so a quantile read from it is within 25% of the
// truth. It is safe for concurrent use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
}

const (
	histBuckets = 64
	histFirst   = 100 * time.Microsecond
	histGrowth  = 1.25
)

// histBound is the upper bound of bucket i; the last bucket has none.
func histBound(i int) time.Duration {
	return time.Duration(float64(histFirst) * math.Pow(histGrowth, float64(i)))
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	if d > histFirst {
		i = int(math.Ceil(math.Log(float64(d)/float64(histFirst)) / math.Log(histGrowth)))
		i = min(i, histBuckets-1)
	}
	h.counts[i].Add(1)
	h.total.Add(1)
}

// Count is how many durations were observed.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q <= 1), or 0 when nothing was observed.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return histBound(i)
		}
	}
	return histBound(histBuckets - 1)
}

// Buckets returns each bucket's upper bound and count, for exporters.
func (h *Histogram) Buckets() ([]time.Duration, []uint64) {
	bounds := make([]time.Duration, histBuckets)
	counts := make([]uint64, histBuckets)
	for i := range h.counts {
		bounds[i], counts[i] = histBound(i), h.counts[i].Load()
	}
	return bounds, counts
}

package enrich

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseEvery is the granularity of coarseNow.
const coarseEvery = 50 * time.Millisecond

var (
	coarseOnce  sync.Once
	coarseNanos atomic.Int64
)

// coarseNow is the wall clock to within coarseEvery, for the checks made on
// every event ("has a second passed since ...?"): reading the clock costs
// more than the rest of such a check on some virtual machines.
func coarseNow() time.Time {
	coarseOnce.Do(func() {
		coarseNanos.Store(time.Now().UnixNano())
		go func() {
			for t := range time.Tick(coarseEvery) {
				coarseNanos.Store(t.UnixNano())
			}
		}()
	})
	return time.Unix(0, coarseNanos.Load())
}

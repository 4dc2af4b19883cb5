package enrich

import (
	"sync"
	"time"
)

// Lookups of what a writer controls (files below its root, its /proc
// entries) run beside the event path, never on it: each on a goroutine of
// its own, which may block for good (a FUSE file system that never
// answers) without holding up any record. The reader of events may wait for
// a lookup it started, so that the first record of a new root or process
// is complete in the common case where the lookup takes microseconds (or
// milliseconds, on a loaded or emulated machine), but only so long:
//
//   - at most besideWait for one lookup (a lookup that hangs costs that
//     once, then runs on, abandoned);
//   - at most besideBudget in any second, all lookups together, so a writer
//     that makes lookups slow on purpose costs the others a bounded share.
//
// At most besideSlots lookups run at once, hung ones included; with none
// free, no lookup starts and the record goes out without what it would
// have found (and says so), the lookup being tried again on a later event.
const (
	besideWait   = 250 * time.Millisecond
	besideBudget = 500 * time.Millisecond
	besideSlots  = 64
)

// beside runs lookups by the rules above.
type beside struct {
	wait, budget time.Duration
	slots        chan struct{}

	mu        sync.Mutex
	running   map[*lookup]struct{}
	second    time.Time     // start of the second the budget is counted in
	waited    time.Duration // waited within that second
	started   uint64        // lookups started
	abandoned uint64        // waits that ended before their lookup did
}

// lookup is one lookup started by beside: done is closed when it returns.
type lookup struct {
	done  chan struct{}
	start time.Time
}

func newBeside(wait, budget time.Duration, slots int) *beside {
	return &beside{wait: wait, budget: budget, slots: make(chan struct{}, slots), running: map[*lookup]struct{}{}}
}

// start runs fn on a goroutine of its own and returns its lookup, or nil
// when every slot is taken (fn is then not run).
func (b *beside) start(fn func()) *lookup {
	select {
	case b.slots <- struct{}{}:
	default:
		return nil
	}
	l := &lookup{done: make(chan struct{}), start: time.Now()}
	b.mu.Lock()
	b.running[l] = struct{}{}
	b.started++
	b.mu.Unlock()
	go func() {
		defer func() {
			b.mu.Lock()
			delete(b.running, l)
			b.mu.Unlock()
			<-b.slots
			close(l.done)
		}()
		fn()
	}()
	return l
}

// await waits for l within the rules above and says whether it is done.
func (b *beside) await(l *lookup) bool {
	if l == nil {
		return false
	}
	select {
	case <-l.done:
		return true
	default:
	}
	now := time.Now()
	b.mu.Lock()
	if now.Sub(b.second) >= time.Second {
		b.second, b.waited = now, 0
	}
	allowed := min(b.wait-now.Sub(l.start), b.budget-b.waited)
	b.mu.Unlock()
	if allowed <= 0 {
		return false
	}
	t := time.NewTimer(allowed)
	defer t.Stop()
	done := false
	select {
	case <-l.done:
		done = true
	case <-t.C:
	}
	b.mu.Lock()
	b.waited += time.Since(now)
	if !done {
		b.abandoned++
	}
	b.mu.Unlock()
	return done
}

// run starts fn and waits for it as await does; ok says it is done.
func (b *beside) run(fn func()) (l *lookup, ok bool) {
	l = b.start(fn)
	return l, b.await(l)
}

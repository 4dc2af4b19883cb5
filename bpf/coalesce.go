package bpf

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Coalescing, kernel side: the first write by a process to a file opens a
// window and is reported at once; further writes within the window only
// add to the (process, file) entry of the coalesce map, the first of them
// sending a template event that names file and writer. The sweep here is
// the only one that takes counts out of the map: it runs the flush program
// for each entry whose window ended (its time ran out, the file was
// closed, the process is gone), which sends one coalesced event for the
// writes merged and subtracts exactly those, so writes merged meanwhile
// wait for the next sweep.

// coalesceIdleDrop is how long an entry with nothing merged stays after its
// last write before the sweep drops it (a close the kernel side did not see:
// close_range(2), dup2(2) over it, an exec closing it).
const coalesceIdleDrop = time.Minute

// CoalesceMax is how many (process, file) windows the kernel keeps open at
// once; past it, writes to other files are reported one by one.
const CoalesceMax = 16384

type coalescer struct {
	window time.Duration
	flush  *ebpf.Program
	stats  *ebpf.Map
	m      *ebpf.Map

	mu   sync.Mutex // one sweep at a time: the flush program must have one caller
	stop chan struct{}
	done chan struct{}
	keys []fsauditCoalesceKey
	vals []fsauditCoalesceVal
	// batchKeys and batchVals take one BatchLookup's answer, sweep after sweep.
	batchKeys []fsauditCoalesceKey
	batchVals []fsauditCoalesceVal
	batchOK   bool
	// alive says whether a process still runs; replaced in tests.
	alive func(tgid uint32) bool
	// onError hears of sweeps that failed (their entries wait for the next).
	onError func(error)
}

// sweepEvery is how often the sweep looks for windows that ended: a
// quarter of the window, between 10 ms and 250 ms.
func sweepEvery(window time.Duration) time.Duration {
	return min(max(window/4, 10*time.Millisecond), 250*time.Millisecond)
}

func processAlive(tgid uint32) bool {
	return unix.Kill(int(tgid), 0) != unix.ESRCH
}

// startCoalescing loads the flush program and proves it runs here (the
// kernel runs raw tracepoint programs on request since 5.10), and attaches
// the close tracepoint. Without the flush program there is no coalescing;
// without the close tracepoint, windows end only when their time runs out.
func (c *Capture) startCoalescing(window time.Duration, onError func(error)) (closeErr error, err error) {
	p, err := c.loadProgram("flush_coalesced")
	if err != nil {
		return nil, err
	}
	co := &coalescer{window: window, flush: p, stats: c.maps.CoalesceStats, m: c.maps.Coalesce,
		batchOK: true, alive: processAlive, onError: onError, stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := co.run(fsauditCoalesceKey{}, false); err != nil {
		p.Close()
		return nil, fmt.Errorf("running the flush program: %w", describe(err))
	}
	if c.RawSyscalls {
		// The syscall point's entry program sees close (syscall_kinds).
	} else if cp, err := c.loadProgram("tp_sys_enter_close"); err != nil {
		closeErr = err
	} else if l, err := link.Tracepoint("syscalls", "sys_enter_close", cp, nil); err != nil {
		cp.Close()
		closeErr = fmt.Errorf("attaching tp_sys_enter_close: %w", describe(err))
	} else {
		c.progs = append(c.progs, cp)
		c.links = append(c.links, l)
	}
	c.co = co
	go co.loop()
	return closeErr, nil
}

// run reports one entry's merged writes: 1 when it sent an event.
func (co *coalescer) run(k fsauditCoalesceKey, drop bool) (uint32, error) {
	var d uint64
	if drop {
		d = 1
	}
	args := [4]uint64{uint64(k.Tgid), k.Inode, k.Cred, d}
	return co.flush.Run(&ebpf.RunOptions{Context: args})
}

func (co *coalescer) loop() {
	defer close(co.done)
	t := time.NewTicker(sweepEvery(co.window))
	defer t.Stop()
	for {
		select {
		case <-co.stop:
			return
		case <-t.C:
			if _, err := co.sweep(false); err != nil && co.onError != nil {
				co.onError(err)
			}
		}
	}
}

// batchChunk is how many entries one BatchLookup reads.
const batchChunk = 1024

// entries reads the whole map: in batches where the kernel can (5.6+),
// else one by one.
func (co *coalescer) entries() ([]fsauditCoalesceKey, []fsauditCoalesceVal, error) {
	co.keys, co.vals = co.keys[:0], co.vals[:0]
	if co.batchOK {
		if co.batchKeys == nil {
			co.batchKeys = make([]fsauditCoalesceKey, batchChunk)
			co.batchVals = make([]fsauditCoalesceVal, batchChunk)
		}
		keys, vals := co.batchKeys, co.batchVals
		var cursor ebpf.MapBatchCursor
		for {
			n, err := co.m.BatchLookup(&cursor, keys, vals, nil)
			co.keys = append(co.keys, keys[:n]...)
			co.vals = append(co.vals, vals[:n]...)
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return co.keys, co.vals, nil
			}
			if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
				co.batchOK = false
				co.keys, co.vals = co.keys[:0], co.vals[:0]
				break
			}
			if err != nil {
				return nil, nil, err
			}
		}
	}
	var k fsauditCoalesceKey
	var v fsauditCoalesceVal
	it := co.m.Iterate()
	for it.Next(&k, &v) {
		co.keys = append(co.keys, k)
		co.vals = append(co.vals, v)
	}
	return co.keys, co.vals, it.Err()
}

// SweepStats says what one sweep did.
type SweepStats struct {
	Reported int // coalesced events sent
	Dropped  int // entries dropped
	Retry    int // entries the ring buffer had no room for: the next sweep retries
}

// sweep reports every entry whose window ended, and with all every entry
// that holds merged writes (the agent stops).
func (co *coalescer) sweep(all bool) (SweepStats, error) {
	co.mu.Lock()
	defer co.mu.Unlock()
	var st SweepStats
	keys, vals, err := co.entries()
	if err != nil {
		return st, fmt.Errorf("reading the coalesce map: %w", err)
	}
	now := monotonicNow()
	window := uint64(co.window)
	// Whether a process is gone is asked once per process and sweep, and
	// only of entries that nothing else would report or drop.
	gone := map[uint32]bool{}
	dead := func(tgid uint32) bool {
		d, ok := gone[tgid]
		if !ok {
			d = !co.alive(tgid)
			gone[tgid] = d
		}
		return d
	}
	for i := range keys {
		k, v := keys[i], vals[i]
		ended := v.WindowNs == 0 || now-v.WindowNs >= window
		last := max(v.WindowNs, v.LastNs)
		var drop bool
		switch {
		case v.Writes > 0 && (all || ended):
		case v.Writes > 0 && dead(k.Tgid):
			drop = true
		case v.Writes == 0 && (ended && now-last >= uint64(coalesceIdleDrop) || dead(k.Tgid)):
			drop = true
		default:
			continue
		}
		r, err := co.run(k, drop)
		if err != nil {
			return st, fmt.Errorf("running the flush program: %w", err)
		}
		switch r {
		case 1:
			st.Reported++
		case 2:
			st.Retry++
			continue
		}
		if drop {
			st.Dropped++
		}
	}
	return st, nil
}

// full counts the writes reported alone because the map was full.
func (co *coalescer) full() (uint64, error) {
	return sumPerCPU(co.stats, 0, "the coalescing counter")
}

// finish stops the periodic sweep and reports every merged write left:
// called once the hooks are detached, so none can follow.
func (co *coalescer) finish() error {
	close(co.stop)
	<-co.done
	for range 3 {
		st, err := co.sweep(true)
		if err != nil || st.Retry == 0 {
			return err
		}
		// The ring buffer is full: let the reader drain it.
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the ring buffer stayed full: merged writes left unreported at stop")
}

func (co *coalescer) close() {
	co.flush.Close()
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// CoalesceFull counts the writes reported one by one because the kernel's
// coalescing map was full (0 without coalescing).
func (c *Capture) CoalesceFull() (uint64, error) {
	if c.co == nil {
		return 0, nil
	}
	return c.co.full()
}

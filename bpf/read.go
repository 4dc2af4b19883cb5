package bpf

// Reading events, stopping, counting what was lost, closing.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// pollEvery bounds how long an event can sit in the ring buffer unread.
const pollEvery = 10 * time.Millisecond

// ErrStopped is returned by Read once Stop was called and every event that
// was in the ring buffer has been read.
var ErrStopped = errors.New("capture stopped")

// Read blocks for the next event and decodes it into e. The slices in e
// stay valid until the next call.
func (c *Capture) Read(e *Event) error {
	for {
		// The kernel side wakes the reader only when much is waiting, so
		// poll on a short deadline too: a lone event waits at most pollEvery.
		c.reader.SetDeadline(time.Now().Add(pollEvery))
		err := c.reader.ReadInto(&c.rec)
		switch {
		case err == nil:
			return decode(c.rec.RawSample, &c.raw, e)
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return ErrStopped
		default:
			return fmt.Errorf("reading the ring buffer: %w", err)
		}
	}
}

// Stop detaches every hook, so no new event starts, and makes Read return
// what the ring buffer still holds, then ErrStopped.
func (c *Capture) Stop() error {
	var err error
	c.stopOnce.Do(func() {
		links := c.links
		c.links = nil
		if derr := c.disable(); derr != nil {
			// Detaching waits for the programs that run.
			err = closeLinks(links)
		} else {
			go closeLinks(links)
		}
		if c.co != nil {
			// No write can merge any more: report what the map holds.
			err = errors.Join(err, c.co.finish())
		}
		if c.reader != nil {
			err = errors.Join(err, c.reader.Flush())
		}
	})
	return err
}

// disable tells every program to do nothing from now on and returns once
// none still runs from before: an RCU grace period, which every BPF program
// run lies within (membarrier(MEMBARRIER_CMD_GLOBAL) waits for one when
// more than one CPU is online). With one CPU to run on it says so: a
// program preempted on that CPU could still be running.
func (c *Capture) disable() error {
	if err := c.setStopped(); err != nil {
		return err
	}
	if runtime.NumCPU() < 2 {
		return errors.New("one CPU: no grace period to wait for")
	}
	const membarrierCmdGlobal = 1
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		return fmt.Errorf("membarrier: %w", errno)
	}
	return nil
}

// setStopped sets settings.stopped: admit nothing.
func (c *Capture) setStopped() error {
	var cfg fsauditConfig
	if err := c.maps.Settings.Lookup(uint32(0), &cfg); err != nil {
		return fmt.Errorf("reading BPF settings: %w", err)
	}
	cfg.Stopped = 1
	if err := c.maps.Settings.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("writing BPF settings: %w", err)
	}
	return nil
}

// Lost sums, over all CPUs, the write events the ring buffer had no room
// for: events that would have made records.
func (c *Capture) Lost() (uint64, error) { return c.lost(0) }

// LifecycleLost is the same for exec and exit events, which only inform
// enrichment: without them a process is named from /proc, if it still runs.
func (c *Capture) LifecycleLost() (uint64, error) { return c.lost(1) }

func (c *Capture) lost(slot uint32) (uint64, error) {
	return sumPerCPU(c.maps.Lost, slot, "the lost-event counter")
}

// sumPerCPU adds up one slot of a per-CPU array of counters.
func sumPerCPU(m *ebpf.Map, slot uint32, what string) (uint64, error) {
	var per []uint64
	if err := m.Lookup(slot, &per); err != nil {
		return 0, fmt.Errorf("reading %s: %w", what, err)
	}
	var sum uint64
	for _, n := range per {
		sum += n
	}
	return sum, nil
}

// Close detaches and frees everything. Call it after Read returned.
func (c *Capture) Close() error {
	err := c.Stop()
	if c.reader != nil {
		err = errors.Join(err, c.reader.Close())
	}
	for _, p := range c.progs {
		p.Close()
	}
	c.progs = nil
	if c.co != nil {
		c.co.close()
	}
	c.maps.Close()
	return err
}

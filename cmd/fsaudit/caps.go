package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capability is one that `run` needs, and what for.
type capability struct {
	cap  int
	name string
	use  string
	// load: without it the programs do not load (unless CAP_SYS_ADMIN
	// stands in); the others only enrich records.
	load bool
}

// keptCapabilities are what the agent needs, and still needs once its
// programs are attached: CAP_BPF and CAP_PERFMON for the bpf(2) calls on
// its maps and links (reading the lost counter, detaching at stop).
var keptCapabilities = []capability{
	{unix.CAP_BPF, "CAP_BPF", "loading BPF programs and maps", true},
	{unix.CAP_PERFMON, "CAP_PERFMON", "attaching tracepoints, kprobes and fentry, reading kernel memory", true},
	{unix.CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "reading other processes' /proc/PID/root, exe and mountinfo (names, users, containers)", false},
	{unix.CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH", "reading /etc/passwd and /etc/group inside containers whatever their modes", false},
}

// dropCapabilities keeps only keptCapabilities, in every thread of the
// process, and takes the others out of the bounding set so nothing the
// agent runs can get them back. It needs a binary built without cgo
// (CGO_ENABLED=0), since Go changes every thread only then. Started with
// a bounding set already reduced (systemd's CapabilityBoundingSet, a
// container's capability list), it drops only what that set still holds;
// without CAP_SETPCAP to do so it still drops the capabilities themselves,
// and says so in note.
func dropCapabilities() (kept, note string, err error) {
	keep := map[int]bool{}
	var names []string
	for _, c := range keptCapabilities {
		keep[c.cap] = true
		names = append(names, c.name)
	}
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); in == 0 {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 {
			if e == syscall.ENOTSUP {
				return "", "", errCgo
			}
			if e != syscall.EPERM {
				return "", "", fmt.Errorf("dropping capability %d from the bounding set: %w", c, e)
			}
			note = "the bounding set keeps what it held (no CAP_SETPCAP to reduce it); the capabilities themselves are dropped"
			break
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for c := range keep {
		data[c/32].Effective |= 1 << (c % 32)
		data[c/32].Permitted |= 1 << (c % 32)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return "", "", fmt.Errorf("setting capabilities: %w", e)
	}
	return strings.Join(names, ","), note, nil
}

// errCgo is the start-up error of a binary built with cgo.
var errCgo = errors.New("this fsaudit was built with cgo, so it cannot drop its capabilities in every thread and would run with all of them: build it with CGO_ENABLED=0 go build ./cmd/fsaudit")

// canDropCapabilities refuses, before anything is loaded, a binary that
// could not drop its capabilities once attached: Go changes the
// capabilities of every thread only without cgo (with cgo, threads that C
// code started are beyond its reach).
func canDropCapabilities() error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_GET_KEEPCAPS, 0, 0); e == syscall.ENOTSUP {
		return errCgo
	}
	return nil
}

// lastCap is the highest capability this kernel knows.
func lastCap() int {
	var n int
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if _, err := fmt.Sscan(string(b), &n); err == nil {
			return n
		}
	}
	return unix.CAP_LAST_CAP
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
	"golang.org/x/sys/unix"
)

// cmdCheck validates the config, probes the kernel and each sink, and
// exits 0 when `run` would start.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	path, err := configFlag("check", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fsaudit: %s\n", oneLine(err))
		return 1
	}
	ok := true
	bad := func(format string, a ...any) {
		ok = false
		fmt.Fprintf(stdout, "  FAIL "+format+"\n", a...)
	}
	cfg, err := loadConfig(path)
	fmt.Fprintln(stdout, "config:")
	if err != nil {
		bad("%s", oneLine(err))
		fmt.Fprintln(stdout, "result: run would not start")
		return 1
	}
	fmt.Fprintf(stdout, "  ok   %s (hook = %s)\n", cfg.Source, cfg.Agent.Hook)

	fmt.Fprintln(stdout, "kernel:")
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		fmt.Fprintf(stdout, "  release %s\n", unix.ByteSliceToString(uts.Release[:]))
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		bad("no BTF at /sys/kernel/btf/vmlinux: CO-RE programs cannot be relocated (needs CONFIG_DEBUG_INFO_BTF)")
	} else {
		fmt.Fprintln(stdout, "  ok   BTF at /sys/kernel/btf/vmlinux")
	}
	variant, points, err := bpf.Probe()
	if err != nil {
		bad("%s", oneLine(err))
	} else {
		walk := "bpf_loop"
		if variant == "compat" {
			walk = "a bounded loop (no bpf_loop before 5.17)"
		}
		fmt.Fprintf(stdout, "  bpf object: %s (%s): path walk in %s\n", variant, bpf.ObjectHash(), walk)
		fmt.Fprintln(stdout, "hook points (mode: loads and attaches?):")
		attachable := 0
		for _, p := range points {
			fmt.Fprintf(stdout, "  %s\n", p.Point)
			for _, a := range p.Attempts {
				if a.Err != nil {
					fmt.Fprintf(stdout, "    %-10s no: %s\n", a.Mode, oneLine(a.Err))
					continue
				}
				fmt.Fprintf(stdout, "    %-10s yes\n", a.Mode)
			}
			if pick := bpf.PickMode(p, cfg.Agent.Hook); pick != "" {
				attachable++
				fmt.Fprintf(stdout, "    -> hook = %s takes %s: %s\n", cfg.Agent.Hook, pick, bpf.PointSees(p.Point, pick))
			} else if bpf.VFSPoint(p.Point) {
				fmt.Fprintf(stdout, "    -> hook = %s takes no mode of it: the syscall point reports its calls (not io_uring's)\n", cfg.Agent.Hook)
			} else if cfg.Agent.Hook == "auto" {
				fmt.Fprintf(stdout, "    -> no mode: %s goes unaudited\n", p.Point)
			} else {
				bad("hook = %s cannot attach %s", cfg.Agent.Hook, p.Point)
			}
		}
		if attachable == 0 {
			bad("no hook point can attach")
		}
		printCoverage(stdout, cfg.Agent.Hook, points)
	}

	fmt.Fprintln(stdout, "sinks:")
	for _, s := range cfg.Sinks {
		switch s.Type {
		case "file":
			if err := fileWritable(s.Path); err != nil {
				bad("%s: file %s: %s", s.Name, s.Path, oneLine(err))
				continue
			}
			fmt.Fprintf(stdout, "  ok   %s: file %s is writable (%s)\n", s.Name, s.Path, s.Format)
		case "stdout":
			fmt.Fprintf(stdout, "  ok   %s: stdout (%s)\n", s.Name, s.Format)
		case "syslog", "kafka":
			if err := dialSink(s, cfg.Agent.HostName); err != nil {
				bad("%s: %s", s.Name, oneLine(err))
				continue
			}
			switch {
			case s.Type == "kafka":
				fmt.Fprintf(stdout, "  ok   %s: kafka %s topic %s is there (%s)\n", s.Name, strings.Join(s.Brokers, ","), s.Topic, s.Format)
			case strings.HasPrefix(s.Address, "udp://"):
				fmt.Fprintf(stdout, "  ok   %s: syslog %s UDP socket ready (UDP cannot tell whether anyone listens), %s (%s)\n", s.Name, s.Address, s.Protocol, s.Format)
			default:
				fmt.Fprintf(stdout, "  ok   %s: syslog %s connected, %s (%s)\n", s.Name, s.Address, s.Protocol, s.Format)
			}
		default:
			bad("%s: type %s is not available in this build", s.Name, s.Type)
		}
	}
	if !ok {
		fmt.Fprintln(stdout, "result: run would not start")
		return 1
	}
	fmt.Fprintln(stdout, "result: run would start")
	return 0
}

// printCoverage prints, for every way a file changes, whether each hook
// setting sees it on this kernel, and why the configured one does not.
func printCoverage(w io.Writer, hook string, points []bpf.PointStatus) {
	settings := []string{"fentry", "kprobe", "tracepoint", "auto"}
	cells := make([][]bpf.Cell, len(settings))
	mine := bpf.CoverageFor(hook, points)
	for i, s := range settings {
		cells[i] = bpf.CoverageFor(s, points)
	}
	// A forced mode that some hook point cannot take does not start at all.
	starts := make([]bool, len(settings))
	for j, set := range settings {
		starts[j] = true
		for _, p := range points {
			if set != "auto" && !bpf.VFSPoint(p.Point) && bpf.PickMode(p, set) == "" {
				starts[j] = false
			}
		}
	}
	fmt.Fprintf(w, "coverage (seen by each hook setting on this kernel; -: would not start; this config: hook = %s):\n", hook)
	fmt.Fprintf(w, "  %-10s %-62s %-10s %-10s %-10s %s\n", "action", "how", settings[0], settings[1], settings[2], settings[3])
	for i, ch := range bpf.Channels {
		line := fmt.Sprintf("  %-10s %-62s", ch.Action, ch.Way)
		for j := range settings {
			mark := "no"
			switch {
			case !starts[j]:
				mark = "-"
			case cells[j][i].Seen:
				mark = "seen"
			}
			line += fmt.Sprintf(" %-10s", mark)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintf(w, "not seen with hook = %s:\n", hook)
	for i, ch := range bpf.Channels {
		if !mine[i].Seen {
			fmt.Fprintf(w, "  %s, %s: %s\n", ch.Action, ch.Way, oneLine(errors.New(mine[i].Why)))
		}
	}
}

// dialSink opens a syslog or Kafka sink and asks its destination whether it
// would take records (a connection, a TLS handshake, the topic's metadata).
func dialSink(sc config.Sink, host string) error {
	sk, err := openSink(sc, host)
	if err != nil {
		return err
	}
	defer sk.Close()
	checker, ok := sk.(interface{ Check(context.Context) error })
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return checker.Check(ctx)
}

// fileWritable tells whether the sink could open path for appending,
// creating it and its directories, without creating anything now.
func fileWritable(path string) error {
	st, err := os.Stat(path)
	if err == nil {
		if !st.Mode().IsRegular() {
			return errors.New("not a regular file")
		}
		return unix.Access(path, unix.W_OK)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("cannot create files in %s: %w", dir, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir || strings.TrimSpace(parent) == "" {
			return fmt.Errorf("no existing directory above %s", path)
		}
		dir = parent
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/metrics"
	"github.com/fsaudit/fsaudit/sink/file"
	"github.com/fsaudit/fsaudit/sink/registry"
	"golang.org/x/sys/unix"
)

// cmdCheck validates the config, probes the kernel and each sink, and
// exits 0 when `run` would start. A warning (a sink that does not answer
// now, a capability enrichment lacks) does not stop `run`: records wait in
// the spool. With --strict, warnings fail too.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	var strict *bool
	path, err := configFlag("check", args, stderr, func(fs *flag.FlagSet) {
		strict = fs.Bool("strict", false, "exit 1 on warnings too (a sink that does not answer, a missing capability)")
	})
	if err != nil {
		fmt.Fprintf(stderr, "fsaudit: %s\n", oneLine(err))
		return 1
	}
	rep := &report{w: stdout}
	cfg, err := loadConfig(path)
	fmt.Fprintln(stdout, "config:")
	if err != nil {
		rep.fail("%s", oneLine(err))
		return rep.result(*strict)
	}
	rep.ok("%s (hook = %s)", cfg.Source, cfg.Agent.Hook)

	checkPrivileges(rep)
	checkKernel(rep, cfg)
	checkLocal(rep, cfg)
	checkSinks(rep, cfg)
	return rep.result(*strict)
}

// report prints check's lines and keeps the verdict.
type report struct {
	w               io.Writer
	fails, warnings int
}

func (r *report) ok(format string, a ...any) { fmt.Fprintf(r.w, "  ok   "+format+"\n", a...) }
func (r *report) warn(format string, a ...any) {
	r.warnings++
	fmt.Fprintf(r.w, "  WARN "+format+"\n", a...)
}
func (r *report) fail(format string, a ...any) {
	r.fails++
	fmt.Fprintf(r.w, "  FAIL "+format+"\n", a...)
}

// result prints the verdict line and returns the exit status.
func (r *report) result(strict bool) int {
	switch {
	case r.fails > 0:
		fmt.Fprintf(r.w, "result: run would not start (%s failed, %s)\n", count(r.fails, "check"), count(r.warnings, "warning"))
		return 1
	case r.warnings > 0 && strict:
		fmt.Fprintf(r.w, "result: run would start, with %s (exit 1: --strict)\n", count(r.warnings, "warning"))
		return 1
	case r.warnings > 0:
		fmt.Fprintf(r.w, "result: run would start, with %s\n", count(r.warnings, "warning"))
		return 0
	}
	fmt.Fprintln(r.w, "result: run would start")
	return 0
}

// count says "1 warning", "2 warnings".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkPrivileges reports the capabilities `run` needs and the kernel's
// lockdown mode.
func checkPrivileges(rep *report) {
	fmt.Fprintln(rep.w, "privileges:")
	if err := canDropCapabilities(); err != nil {
		rep.fail("%s", err)
	}
	eff, err := effectiveCapabilities()
	if err != nil {
		rep.warn("cannot read this process's capabilities: %s", oneLine(err))
	} else {
		admin := eff&(1<<unix.CAP_SYS_ADMIN) != 0
		for _, c := range keptCapabilities {
			switch {
			case eff&(1<<uint(c.cap)) != 0:
				rep.ok("%s (%s)", c.name, c.use)
			case c.load && admin:
				rep.ok("%s missing, CAP_SYS_ADMIN stands in for it (%s)", c.name, c.use)
			case c.load:
				// The probes below fail with the kernel's own error.
				rep.warn("%s missing: needed for %s", c.name, c.use)
			default:
				rep.warn("%s missing: needed for %s; records will lack them", c.name, c.use)
			}
		}
	}
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	switch {
	case err != nil:
		fmt.Fprintln(rep.w, "  lockdown: not reported by this kernel (securityfs not mounted or no lockdown LSM)")
	case strings.Contains(string(b), "[confidentiality]"):
		rep.warn("kernel lockdown is confidentiality: BPF programs may not read kernel memory, so none of fsaudit's programs load (boot with lockdown=integrity or none)")
	default:
		fmt.Fprintf(rep.w, "  lockdown: %s\n", strings.TrimSpace(string(b)))
	}
}

// effectiveCapabilities reads the CapEff mask of this process.
func effectiveCapabilities() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

// checkKernel reports the kernel, BTF, each hook point in each mode, and
// the coverage table.
func checkKernel(rep *report, cfg *config.Config) {
	stdout := rep.w
	fmt.Fprintln(stdout, "kernel:")
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		fmt.Fprintf(stdout, "  release %s\n", unix.ByteSliceToString(uts.Release[:]))
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		rep.fail("no BTF at /sys/kernel/btf/vmlinux: CO-RE programs cannot be relocated (needs CONFIG_DEBUG_INFO_BTF)")
	} else {
		rep.ok("BTF at /sys/kernel/btf/vmlinux")
	}
	variant, points, err := bpf.Probe()
	if err != nil {
		rep.fail("%s", oneLine(err))
		return
	}
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
			rep.fail("hook = %s cannot attach %s", cfg.Agent.Hook, p.Point)
		}
	}
	if attachable == 0 {
		rep.fail("no hook point can attach")
	}
	printCoverage(stdout, cfg.Agent.Hook, points)
}

// checkLocal reports what `run` opens on this host besides the sinks: the
// spool directory, the metrics address and the chain's key file.
func checkLocal(rep *report, cfg *config.Config) {
	fmt.Fprintln(rep.w, "agent:")
	if dir := cfg.Spool.Dir; dir != "" {
		if err := dirWritable(dir); err != nil {
			rep.fail("spool %s: %s", dir, oneLine(err))
		} else {
			rep.ok("spool %s is writable", dir)
		}
	} else {
		rep.warn("no spool (spool.dir = \"\"): records for a sink that is down wait in memory, then are given up")
	}
	if addr := cfg.Agent.MetricsListen; addr != "" {
		// Taken as run takes it, and given back at once.
		ms, err := metrics.Listen(addr)
		if err != nil {
			rep.fail("%s", oneLine(err))
		} else {
			ms.Close()
			rep.ok("metrics_listen %s is free: /metrics and /healthz", addr)
		}
	}
	if reportPrivate(rep, chainPrivateFiles(cfg.Chain)) && cfg.Chain.Enabled && cfg.Chain.SealKeyFile != "" {
		if k, err := openSealKey(cfg.Chain.SealKeyFile); err != nil {
			rep.fail("%s", oneLine(err))
		} else {
			rep.ok("sealing: key %s, next epoch %d, a seal of every sink at least every %s and at every stop", k.ID(), k.Epoch(), cfg.Chain.SealInterval.Duration)
			k.Close()
		}
	}
	if len(cfg.Filter.ExcludeComms) > 0 {
		// A note, not a warning: a convenience is not a fault.
		fmt.Fprintf(rep.w, "  note exclude_comms %v: any process may take any of these names (cp /bin/sh ./NAME); it cuts noise and is no boundary: exclude_executables names the program itself\n", cfg.Filter.ExcludeComms)
	}
	for _, p := range cfg.Filter.ExcludeExecutables {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			rep.fail("exclude_executables %s: %s", p, oneLine(err))
		} else if st.Mode&unix.S_IFMT != unix.S_IFREG {
			rep.fail("exclude_executables %s is not a regular file", p)
		} else {
			rep.ok("exclude_executables %s (device %d:%d, inode %d): whatever it runs, with any arguments or preloaded library, is not audited", p, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
		}
	}
}

// checkSinks asks each sink, as `run` would open it, whether it could
// take records now, without writing one. A sink whose key or password
// file `run` refuses is not dialled.
func checkSinks(rep *report, cfg *config.Config) {
	fmt.Fprintln(rep.w, "sinks:")
	for i := range cfg.Sinks {
		s := &cfg.Sinks[i]
		if !reportPrivate(rep, sinkPrivateFiles(s)) {
			continue
		}
		for _, w := range sinkWarnings(s) {
			rep.warn("%s: %s", s.Name, w)
		}
		env, err := sinkEnv(s, cfg.Agent.HostName, false)
		if err != nil {
			rep.fail("%s: %s", s.Name, oneLine(err))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		registry.Check(ctx, s, env, sinkReport{rep, s.Name})
		cancel()
	}
}

// sinkReport is one sink's sink.Reporter: each line names the sink once
// (an error that starts "sink NAME: " loses that) and is one line.
type sinkReport struct {
	rep  *report
	name string
}

func (r sinkReport) line(format string, a []any) string {
	msg := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", "; ")
	return r.name + ": " + strings.TrimPrefix(msg, "sink "+r.name+": ")
}
func (r sinkReport) OK(format string, a ...any)   { r.rep.ok("%s", r.line(format, a)) }
func (r sinkReport) Warn(format string, a ...any) { r.rep.warn("%s", r.line(format, a)) }
func (r sinkReport) Fail(format string, a ...any) { r.rep.fail("%s", r.line(format, a)) }

// reportPrivate checks key and credential files as `run` does
// (private.Check) and reports each; it tells whether all of them pass.
func reportPrivate(rep *report, files []private.File) bool {
	pass := true
	for _, p := range files {
		if err := private.Check(p.Path, p.What); err != nil {
			rep.fail("%s", oneLine(err))
			pass = false
			continue
		}
		rep.ok("%s %s: a regular file only its owner (root or the agent's user) may read", p.What, p.Path)
	}
	return pass
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

// dirWritable tells whether run could create files in dir, creating it
// and its parents first if need be, without creating anything now.
func dirWritable(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return errors.New("not a directory")
		}
		return unix.Access(dir, unix.W_OK|unix.X_OK)
	}
	return file.Writable(filepath.Join(dir, "probe"))
}

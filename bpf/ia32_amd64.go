package bpf

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// errNoIA32 says the kernel runs no 32-bit code: no program watches the
// 32-bit system calls, which cost every other call a program's run.
var errNoIA32 = errors.New("the kernel runs no 32-bit code")

// ia32Emulation says whether a process can make 32-bit system calls: the
// kernel has the i386 ABI (CONFIG_IA32_EMULATION: its __ia32_sys_*
// functions) and did not turn it off at boot (ia32_emulation=, 6.7 and
// later, whose default CONFIG_IA32_EMULATION_DEFAULT_DISABLED sets). nil
// when it can, or when that cannot be told: then the programs are attached.
func ia32Emulation() error {
	if !kernelHas("__ia32_sys_read") {
		return fmt.Errorf("%w: built without CONFIG_IA32_EMULATION", errNoIA32)
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	return ia32Setting(string(cmdline), kernelConfig())
}

// ia32Setting reads the boot setting from the kernel's command line, and
// its default from the kernel's config ("" when unknown).
func ia32Setting(cmdline, config string) error {
	for _, f := range strings.Fields(cmdline) {
		if f == "--" {
			break // the rest is init's
		}
		v, ok := strings.CutPrefix(f, "ia32_emulation=")
		if !ok {
			continue
		}
		switch strings.ToLower(v) {
		case "0", "n", "no", "off", "false":
			return fmt.Errorf("%w: ia32_emulation=%s on the kernel's command line", errNoIA32, v)
		default:
			return nil
		}
	}
	if strings.Contains(config, "\nCONFIG_IA32_EMULATION_DEFAULT_DISABLED=y\n") {
		return fmt.Errorf("%w: off by default (CONFIG_IA32_EMULATION_DEFAULT_DISABLED) and not turned on at boot", errNoIA32)
	}
	return nil
}

// kernelConfig is the running kernel's build configuration, from
// /proc/config.gz or /boot/config-RELEASE, with a newline before its first
// line; "" when neither is there.
func kernelConfig() string {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			if data, err := io.ReadAll(io.LimitReader(z, 16<<20)); err == nil {
				return "\n" + string(data)
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	release := string(bytes.TrimRight(u.Release[:], "\x00"))
	data, err := os.ReadFile("/boot/config-" + release)
	if err != nil {
		return ""
	}
	return "\n" + string(data)
}

package bpf

import (
	"errors"
	"testing"
)

func TestIA32Setting(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline, config string
		off                   bool
	}{
		{"default on", "root=/dev/sda1 quiet", "\nCONFIG_IA32_EMULATION=y\n", false},
		{"turned off", "root=/dev/sda1 ia32_emulation=false", "", true},
		{"turned off by 0", "ia32_emulation=0 quiet", "", true},
		{"off by default", "quiet", "\nCONFIG_IA32_EMULATION_DEFAULT_DISABLED=y\n", true},
		{"off by default, on at boot", "ia32_emulation=true", "\nCONFIG_IA32_EMULATION_DEFAULT_DISABLED=y\n", false},
		{"init's argument", "quiet -- ia32_emulation=0", "", false},
		{"unknown config", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ia32Setting(tc.cmdline, tc.config)
			if off := errors.Is(err, errNoIA32); off != tc.off {
				t.Errorf("ia32Setting = %v, want off %v", err, tc.off)
			}
		})
	}
}

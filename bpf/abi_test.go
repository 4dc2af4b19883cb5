package bpf

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cEnum reads the enumerators of enum name in the BPF source, evaluating
// N and 1 << N.
func cEnum(t *testing.T, src, name string) map[string]uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?s)enum ` + name + ` \{(.*?)\};`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("enum %s not found in the BPF source", name)
	}
	out := map[string]uint64{}
	body := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(m[1], "")
	for _, item := range strings.Split(body, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var n uint64
		var err error
		if base, shift, isShift := strings.Cut(v, "<<"); isShift {
			var b, s uint64
			b, err = strconv.ParseUint(strings.TrimSpace(base), 0, 64)
			if err == nil {
				s, err = strconv.ParseUint(strings.TrimSpace(shift), 0, 64)
			}
			n = b << s
		} else {
			n, err = strconv.ParseUint(v, 0, 64)
		}
		if err != nil {
			t.Fatalf("enum %s: %s = %q does not read: %v", name, k, v, err)
		}
		out[strings.TrimSpace(k)] = n
	}
	return out
}

// Every hook the kernel side names (enum fsa_hook, emitted by bpf2go) is
// a mode in Go.
func TestHookModes(t *testing.T) {
	for _, h := range []fsauditFsaHook{fsauditFsaHookFSA_HOOK_FENTRY, fsauditFsaHookFSA_HOOK_KPROBE, fsauditFsaHookFSA_HOOK_TRACEPOINT} {
		if m := modeFromKernel(h); !slices.Contains(Modes, m) {
			t.Errorf("hook %d is %q, not a mode", h, m)
		}
	}
}

// How a file was created (enum fsa_create), which the event's 32-bit sub
// carries and so no BTF type: every enumerator has its Go constant, of
// the same value.
func TestCreateKindsMatchTheBPFSource(t *testing.T) {
	data, err := os.ReadFile("lib/layout.h")
	if err != nil {
		t.Fatal(err)
	}
	goes := map[string]uint64{"FSA_CREATE_OPEN": CreateOpen, "FSA_CREATE_MKNOD": CreateMknod, "FSA_CREATE_MKDIR": CreateMkdir,
		"FSA_CREATE_LINK": CreateLink, "FSA_CREATE_SYMLINK": CreateSymlink}
	c := cEnum(t, string(data), "fsa_create")
	for name, v := range c {
		if g, ok := goes[name]; !ok || g != v {
			t.Errorf("enum fsa_create: %s is %d in C, %d in Go (present %v)", name, v, g, ok)
		}
	}
	if len(c) != len(goes) {
		t.Errorf("enum fsa_create has %d enumerators, Go %d", len(c), len(goes))
	}
}

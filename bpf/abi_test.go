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
// N, 1 << N, and none (the previous one's value and 1).
func cEnum(t *testing.T, src, name string) map[string]uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?s)enum ` + name + `(?: : \w+)? \{(.*?)\};`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("enum %s not found in the BPF source", name)
	}
	out := map[string]uint64{}
	body := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(m[1], "")
	next := uint64(0)
	for _, item := range strings.Split(body, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			if k = strings.TrimSpace(k); k != "" {
				out[k] = next
				next++
			}
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
		next = n + 1
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

// Which operation each call that names its file reports is sc_op's
// answer in the BPF source; kindOps, which decides the calls watched for
// the audited actions, says the same of each.
func TestSyscallOpsMatchTheBPFSource(t *testing.T) {
	data, err := os.ReadFile("fsaudit.bpf.c")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	layout, err := os.ReadFile("lib/layout.h")
	if err != nil {
		t.Fatal(err)
	}
	kinds, ops := cEnum(t, src, "fsa_sc"), cEnum(t, string(layout), "fsa_op")
	body := regexp.MustCompile(`(?s)static __always_inline __u16 sc_op\(__u8 kind\)\n\{(.*?)\n\}`).FindStringSubmatch(src)
	if body == nil {
		t.Fatal("sc_op not found in fsaudit.bpf.c")
	}
	inC := map[fsauditFsaSc]Op{}
	var cases []string
	for _, tok := range regexp.MustCompile(`case (SC_\w+):|return (FSA_OP_\w+);`).FindAllStringSubmatch(body[1], -1) {
		if tok[1] != "" {
			cases = append(cases, tok[1])
			continue
		}
		op, ok := ops[tok[2]]
		if !ok {
			t.Fatalf("sc_op returns %s, not in enum fsa_op", tok[2])
		}
		for _, c := range cases {
			k, ok := kinds[c]
			if !ok {
				t.Fatalf("sc_op names %s, not in enum fsa_sc", c)
			}
			inC[fsauditFsaSc(k)] = Op(op)
		}
		cases = nil
	}
	if len(inC) < 30 {
		t.Fatalf("read %d calls from sc_op, want its whole table", len(inC))
	}
	for k, op := range inC {
		if got := kindOps[k]; len(got) != 1 || got[0] != op {
			t.Errorf("kind %d: sc_op reports %s, kindOps says %v", k, op, got)
		}
	}
	named := []Op{OpCreate, OpTruncate, OpRename, OpDelete, OpChmod, OpChown, OpXattr}
	for k, got := range kindOps {
		if _, ok := inC[k]; !ok && len(got) == 1 && slices.Contains(named, got[0]) {
			t.Errorf("kind %d reports %s by kindOps, and sc_op does not know it", k, got[0])
		}
	}
}

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
// the mode of its name in Go, and Go knows them all.
func TestHookModes(t *testing.T) {
	data, err := os.ReadFile("lib/layout.h")
	if err != nil {
		t.Fatal(err)
	}
	hooks := cEnum(t, string(data), "fsa_hook")
	want := map[string]Mode{"FSA_HOOK_FENTRY": ModeFentry, "FSA_HOOK_KPROBE": ModeKprobe, "FSA_HOOK_TRACEPOINT": ModeTracepoint}
	for name, v := range hooks {
		if got := modeFromKernel(fsauditFsaHook(v)); got != want[name] {
			t.Errorf("%s = %d is %q in Go, want %q", name, v, got, want[name])
		}
	}
	if len(hooks) != len(want) {
		t.Errorf("enum fsa_hook has %d hooks, Go knows %d", len(hooks), len(want))
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
// answer in the BPF source; the handler syscall_done gives that operation
// has a case for each of those calls and no other; and kindOps, which
// decides the calls watched for the audited actions, says the same.
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
	fn := func(name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?s)static __always_inline \w+ ` + name + `\(([^)]*)\)\n\{(.*?)\n\}`).FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("%s not found in fsaudit.bpf.c", name)
		}
		return m[2]
	}
	// sc_op: runs of case labels, each run ending in the return of an op.
	inC := map[string]string{} // SC_ name -> FSA_OP_ name
	var cases []string
	for _, tok := range regexp.MustCompile(`case (SC_\w+):|return (FSA_OP_\w+);|(break;|default:|return 0;)`).FindAllStringSubmatch(fn("sc_op"), -1) {
		switch {
		case tok[1] != "":
			cases = append(cases, tok[1])
		case tok[2] != "":
			for _, c := range cases {
				inC[c] = tok[2]
			}
			cases = nil
		case len(cases) > 0:
			t.Fatalf("sc_op: %v end in %q, not in an operation", cases, tok[3])
		}
	}
	if len(inC) < 30 {
		t.Fatalf("read %d calls from sc_op, want its whole table", len(inC))
	}
	// The dispatch in syscall_done, and each handler's own calls.
	handlers := map[string]string{}
	for _, m := range regexp.MustCompile(`case (FSA_OP_\w+):\s*gone = (\w+)\(`).FindAllStringSubmatch(fn("syscall_done"), -1) {
		handlers[m[1]] = m[2]
	}
	byOp := map[string][]string{}
	for c, op := range inC {
		byOp[op] = append(byOp[op], c)
	}
	for op, want := range byOp {
		h, ok := handlers[op]
		if !ok {
			t.Errorf("syscall_done gives %s to no handler", op)
			continue
		}
		var got []string
		for _, m := range regexp.MustCompile(`case (SC_\w+):|kind [!=]= (SC_\w+)`).FindAllStringSubmatch(fn(h), -1) {
			got = append(got, m[1]+m[2])
		}
		slices.Sort(got)
		got = slices.Compact(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: handler %s takes %v, sc_op gives it %v", op, h, got, want)
		}
	}
	for c, opName := range inC {
		k, ok := kinds[c]
		if !ok {
			t.Fatalf("sc_op names %s, not in enum fsa_sc", c)
		}
		op, ok := ops[opName]
		if !ok {
			t.Fatalf("sc_op returns %s, not in enum fsa_op", opName)
		}
		if got := kindOps[fsauditFsaSc(k)]; len(got) != 1 || got[0] != Op(op) {
			t.Errorf("%s: sc_op reports %s, kindOps says %v", c, opName, got)
		}
	}
	named := []Op{OpCreate, OpTruncate, OpRename, OpDelete, OpChmod, OpChown, OpXattr}
	for k, got := range kindOps {
		known := false
		for c := range inC {
			known = known || fsauditFsaSc(kinds[c]) == k
		}
		if !known && len(got) == 1 && slices.Contains(named, got[0]) {
			t.Errorf("kind %d reports %s by kindOps, and sc_op does not know it", k, got[0])
		}
	}
}

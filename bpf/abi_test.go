package bpf

import (
	"os"
	"regexp"
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
		t.Fatalf("enum %s not found in fsaudit.bpf.c", name)
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

// The kernel side's operations, flags and hooks, which the C source
// defines and bpf2go cannot emit (no BTF type carries them), are the Go
// side's: every enumerator has its Go constant, of the same value.
func TestABIMatchesTheBPFSource(t *testing.T) {
	data, err := os.ReadFile("fsaudit.bpf.c")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for _, tc := range []struct {
		enum string
		goes map[string]uint64
	}{
		{"fsa_op", map[string]uint64{
			"FSA_OP_WRITE": uint64(OpWrite), "FSA_OP_EXEC": uint64(OpExec), "FSA_OP_EXIT": uint64(OpExit),
			"FSA_OP_CREATE": uint64(OpCreate), "FSA_OP_TRUNCATE": uint64(OpTruncate), "FSA_OP_RENAME": uint64(OpRename),
			"FSA_OP_DELETE": uint64(OpDelete), "FSA_OP_CHMOD": uint64(OpChmod), "FSA_OP_CHOWN": uint64(OpChown),
			"FSA_OP_XATTR": uint64(OpXattr), "FSA_OP_MMAP_WRITE": uint64(OpMmapWrite), "FSA_OP_RESULT": uint64(OpResult),
			"FSA_OP_UTIMES": uint64(OpUtimes),
		}},
		{"fsa_flags", map[string]uint64{
			"FSA_F_TRUNCATED": uint64(FlagTruncated), "FSA_F_DELETED": uint64(FlagDeleted), "FSA_F_APPEND": uint64(FlagAppend),
			"FSA_F_NO_OFFSET": uint64(FlagNoOffset), "FSA_F_IOV_PARTIAL": uint64(FlagIovPartial),
			"FSA_F_OUTSIDE_ROOT": uint64(FlagOutsideRoot), "FSA_F_ARGS_TRUNCATED": uint64(FlagArgsTrunc),
			"FSA_F_PASSED_ROOT": uint64(FlagPassedRoot), "FSA_F_GIVEN": uint64(FlagGiven), "FSA_F_RAW": uint64(FlagRaw),
			"FSA_F_NO_INODE": uint64(FlagNoInode), "FSA_F_EXCHANGE": uint64(FlagExchange), "FSA_F_FOLLOW": uint64(FlagFollow),
			"FSA_F_PENDING": uint64(FlagPending), "FSA_F_COALESCED": uint64(FlagCoalesced), "FSA_F_TEMPLATE": uint64(FlagTemplate),
		}},
	} {
		c := cEnum(t, src, tc.enum)
		for name, v := range c {
			g, ok := tc.goes[name]
			switch {
			case !ok:
				t.Errorf("enum %s: %s (%d) has no Go constant", tc.enum, name, v)
			case g != v:
				t.Errorf("enum %s: %s is %d in C, %d in Go", tc.enum, name, v, g)
			}
		}
		for name := range tc.goes {
			if _, ok := c[name]; !ok {
				t.Errorf("enum %s: %s is in Go, not in C", tc.enum, name)
			}
		}
	}
	hooks := cEnum(t, src, "fsa_hook")
	for name, want := range map[string]Mode{"FSA_HOOK_FENTRY": ModeFentry, "FSA_HOOK_KPROBE": ModeKprobe, "FSA_HOOK_TRACEPOINT": ModeTracepoint} {
		if got := modeFromKernel(uint16(hooks[name])); got != want {
			t.Errorf("%s = %d is %q in Go, want %q", name, hooks[name], got, want)
		}
	}
	if len(hooks) != 3 {
		t.Errorf("enum fsa_hook has %d hooks, Go knows 3", len(hooks))
	}
}

package bpf

import (
	"errors"
	"testing"
	"unsafe"
)

func rawBytes(raw *fsauditEvent, pathLen int) []byte {
	b := unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
	return append([]byte(nil), b[:headerSize+pathLen]...)
}

func TestDecode(t *testing.T) {
	var in fsauditEvent
	in.TsNs, in.Pid, in.Tid, in.Uid, in.Loginuid = 123, 10, 11, 1000, UnsetLoginUID
	in.Dev = 254<<20 | 3
	in.Hook, in.Op, in.Flags, in.Depth = 3, 1, FlagDeleted|FlagAppend, 2
	copy(unsafeBytes(in.Comm[:]), "bash")
	path := "f.txt\x00tmp\x00"
	copy(in.Path[:], path)
	in.PathLen = uint16(len(path))

	var scratch fsauditEvent
	var e Event
	if err := decode(rawBytes(&in, len(path)), &scratch, &e); err != nil {
		t.Fatal(err)
	}
	if e.KernelTime != 123 || e.PID != 10 || e.TID != 11 || e.UID != 1000 || e.LoginUID != UnsetLoginUID {
		t.Errorf("ids: %+v", e)
	}
	if e.Hook != ModeTracepoint || e.Op != OpWrite || e.Op.String() != "write" || e.Depth != 2 {
		t.Errorf("hook %q op %v depth %d", e.Hook, e.Op, e.Depth)
	}
	if e.Flags&FlagDeleted == 0 || e.Flags&FlagAppend == 0 || e.Flags&FlagTruncated != 0 {
		t.Errorf("flags %b", e.Flags)
	}
	if e.DevMajor() != 254 || e.DevMinor() != 3 {
		t.Errorf("dev %d:%d", e.DevMajor(), e.DevMinor())
	}
	if string(e.Comm) != "bash" || string(e.Components) != path {
		t.Errorf("comm %q components %q", e.Comm, e.Components)
	}
}

func TestDecodeTarget(t *testing.T) {
	var in fsauditEvent
	in.Op, in.Sub, in.NewUid, in.NewGid = OpRename, RenameExchange, NoID, 7
	in.Flags = FlagGiven | FlagNoInode | FlagExchange
	path, target := "old\x00w\x00tmp\x00", "new\x00w\x00tmp\x00"
	copy(in.Path[:], path+target)
	in.PathLen, in.TargetLen, in.TargetFlags, in.TargetRootOff = uint16(len(path)), uint16(len(target)), FlagGiven|FlagPassedRoot, uint16(len(target))
	var scratch fsauditEvent
	var e Event
	if err := decode(rawBytes(&in, len(path)+len(target)), &scratch, &e); err != nil {
		t.Fatal(err)
	}
	if e.Op.String() != "rename" || string(e.Components) != path || string(e.Target) != target || e.Sub != RenameExchange ||
		e.TargetFlags&FlagGiven == 0 || e.TargetRootOff != len(target) || e.NewUID != NoID || e.NewGID != 7 {
		t.Errorf("decoded %+v", e)
	}
	// A target longer than the sample, or a root offset past it, is refused.
	if err := decode(rawBytes(&in, len(path)+len(target))[:headerSize+len(path)+2], &scratch, &e); !errors.Is(err, ErrBadSample) {
		t.Errorf("cut target: %v", err)
	}
	in.TargetRootOff = uint16(len(target) + 1)
	if err := decode(rawBytes(&in, len(path)+len(target)), &scratch, &e); !errors.Is(err, ErrBadSample) {
		t.Errorf("target root offset past the target: %v", err)
	}
}

func TestOpNames(t *testing.T) {
	for name, op := range actionOps {
		if op.String() != name {
			t.Errorf("%s: Op(%d).String() = %q", name, op, op.String())
		}
	}
	if len(actionOps) != len(Actions) {
		t.Errorf("%d actions, %d ops", len(Actions), len(actionOps))
	}
	for nr, sc := range syscallKinds {
		if len(kindOps[sc.kind]) == 0 {
			t.Errorf("syscall %d (kind %d) reports no operation", nr, sc.kind)
		}
	}
	if _, err := parseActions([]string{"write", "erase"}); err == nil {
		t.Error("unknown action taken")
	}
}

func unsafeBytes(b []int8) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)) }

func TestDecodeRejects(t *testing.T) {
	var in fsauditEvent
	in.PathLen = 10
	full := rawBytes(&in, 10)
	tests := []struct {
		name   string
		sample []byte
	}{
		{"empty", nil},
		{"header cut", full[:headerSize-1]},
		{"path shorter than its length", full[:headerSize+4]},
	}
	for _, tc := range tests {
		var scratch fsauditEvent
		var e Event
		err := decode(tc.sample, &scratch, &e)
		if err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
		if !errors.Is(err, ErrBadSample) {
			t.Errorf("%s: %v does not wrap ErrBadSample", tc.name, err)
		}
		if tc.name != "path shorter than its length" && !errors.Is(err, errShortSample) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	var oversize fsauditEvent
	oversize.PathLen = uint16(len(oversize.Path) + 1)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&oversize)), unsafe.Sizeof(oversize))
	var scratch fsauditEvent
	var e Event
	if err := decode(append([]byte(nil), b...), &scratch, &e); err == nil {
		t.Error("decoded a path length past the buffer")
	}
}

func FuzzDecode(f *testing.F) {
	var in fsauditEvent
	in.PathLen = 4
	f.Add(rawBytes(&in, 4))
	f.Fuzz(func(t *testing.T, sample []byte) {
		var scratch fsauditEvent
		var e Event
		if err := decode(sample, &scratch, &e); err == nil && len(e.Components)+len(e.Target) > len(sample)-headerSize {
			t.Fatalf("components %d and target %d bytes from a %d-byte sample", len(e.Components), len(e.Target), len(sample))
		}
	})
}

func TestVerifierCause(t *testing.T) {
	tests := []struct {
		log  []string
		want string
	}{
		{[]string{"0: (b7) r0 = 0", "R1 invalid mem access 'scalar'", "processed 12 insns (limit 1000000) max_states_per_insn 0", "verification time 5 usec", "stack depth 0"}, "R1 invalid mem access 'scalar'"},
		{[]string{"func#0 @0", "(85) call bpf_loop#181", "unknown func bpf_loop#181", "processed 1 insns"}, "unknown func bpf_loop#181"},
		{nil, "(empty log)"},
	}
	for _, tc := range tests {
		if got := verifierCause(tc.log); got != tc.want {
			t.Errorf("verifierCause(%q) = %q, want %q", tc.log, got, tc.want)
		}
	}
}

// BenchmarkDecode is the per-event cost of turning a ring buffer sample of
// a write to a four-component path into an Event.
func BenchmarkDecode(b *testing.B) {
	var in fsauditEvent
	in.TsNs, in.Pid, in.Tid, in.Loginuid, in.Hook, in.Op, in.Depth = 1, 10, 11, UnsetLoginUID, 3, 1, 4
	copy(unsafeBytes(in.Comm[:]), "bench")
	path := "file.txt\x00data\x00ann\x00home\x00"
	copy(in.Path[:], path)
	in.PathLen = uint16(len(path))
	sample := rawBytes(&in, len(path))
	var scratch fsauditEvent
	var e Event
	b.ReportAllocs()
	for b.Loop() {
		if err := decode(sample, &scratch, &e); err != nil {
			b.Fatal(err)
		}
	}
}

package bpf

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs (CAP_BPF, CAP_PERFMON)")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
}

// TestProgramsPassVerifier loads every program of both objects into this
// kernel's verifier, except the program types the kernel lacks.
func TestProgramsPassVerifier(t *testing.T) {
	requireRoot(t)
	variants := map[string]func() (*ebpf.CollectionSpec, error){"bpf_loop": loadFsaudit, "compat": loadFsauditCompat}
	for variant, load := range variants {
		spec, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if variant == "bpf_loop" && !HaveBPFLoop() {
			t.Logf("kernel has no bpf_loop: skipping the %s object", variant)
			continue
		}
		for name, ps := range spec.Programs {
			t.Run(variant+"/"+name, func(t *testing.T) {
				if ps.Type == ebpf.Kprobe {
					if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
						t.Skipf("kernel lacks kprobe programs: %v", err)
					}
				}
				one := spec.Copy()
				for other := range one.Programs {
					if other != name {
						delete(one.Programs, other)
					}
				}
				coll, err := ebpf.NewCollection(one)
				if err != nil {
					var ve *ebpf.VerifierError
					if ps.Type == ebpf.Tracing && !errors.As(err, &ve) {
						t.Skipf("kernel refuses fentry here (proven in the kernel matrix): %v", describe(err))
					}
					if os.Getenv("FSAUDIT_VERIFIER_LOG") != "" && errors.As(err, &ve) {
						t.Logf("%+v", ve)
					}
					t.Fatalf("%v", describe(err))
				}
				coll.Close()
			})
		}
	}
}

func TestProgramSections(t *testing.T) {
	spec, err := loadFsaudit()
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range points {
		all := maps.Clone(pt.targets)
		if pt.raw != nil {
			all[ModeTracepoint] = append(slices.Clone(all[ModeTracepoint]), pt.raw...)
		}
		for mode, targets := range all {
			for _, tg := range targets {
				ps, ok := spec.Programs[tg.prog]
				if !ok {
					t.Fatalf("%s/%s: program %s missing", pt.name, mode, tg.prog)
				}
				prefixes := map[Mode][]string{ModeFentry: {"fentry/"}, ModeKprobe: {"kprobe/"}, ModeTracepoint: {"tracepoint/syscalls/", "tp_btf/sys_"}}[mode]
				ok = false
				for _, prefix := range prefixes {
					ok = ok || strings.HasPrefix(ps.SectionName, prefix)
				}
				if !ok {
					t.Errorf("%s: section %s, want a prefix of %q", tg.prog, ps.SectionName, prefixes)
				}
			}
		}
	}
}

// TestMapsShared: the compat object has exactly the maps of the other,
// whose generated struct both load into and share among their programs;
// each program is loaded on its own, and a map left out would be a
// private copy per program (an event's state written by one, never seen
// by another).
func TestMapsShared(t *testing.T) {
	shared := mapsByName(&fsauditMaps{})
	first, err := loadFsaudit()
	if err != nil {
		t.Fatal(err)
	}
	for variant, load := range map[string]func() (*ebpf.CollectionSpec, error){"bpf_loop": loadFsaudit, "compat": loadFsauditCompat} {
		spec, err := load()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for name, m := range spec.Maps {
			if strings.HasPrefix(name, ".") {
				continue
			}
			n++
			if _, ok := shared[name]; !ok {
				t.Errorf("%s: map %s is not in the generated maps", variant, name)
				continue
			}
			// The compat object decodes through the other's Go types:
			// its keys and values must be laid out alike.
			if f := first.Maps[name]; f == nil || f.KeySize != m.KeySize || f.ValueSize != m.ValueSize || f.Type != m.Type || f.MaxEntries != m.MaxEntries {
				t.Errorf("%s: map %s is %v, the bpf_loop object's %v", variant, name, m, f)
			}
		}
		if n != len(shared) {
			t.Errorf("%s: %d maps, the generated struct has %d", variant, n, len(shared))
		}
	}
}

// The types the compat object shares with the other (-no-global-types)
// have the same size in both: an #ifdef inside one would go unseen.
func TestTypesShared(t *testing.T) {
	first, err := loadFsaudit()
	if err != nil {
		t.Fatal(err)
	}
	compat, err := loadFsauditCompat()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"event", "config", "coalesce_key", "coalesce_val", "exe_key", "compat_kind", "pending", "walk"} {
		var a, b *btf.Struct
		errA := first.Types.TypeByName(name, &a)
		errB := compat.Types.TypeByName(name, &b)
		if errA != nil || errB != nil {
			t.Errorf("type %s: %v, %v", name, errA, errB)
			continue
		}
		sa, errA := btf.Sizeof(a)
		sb, errB := btf.Sizeof(b)
		if errA != nil || errB != nil || sa != sb {
			t.Errorf("type %s: %d bytes in the bpf_loop object, %d in compat (%v, %v)", name, sa, sb, errA, errB)
		}
	}
}

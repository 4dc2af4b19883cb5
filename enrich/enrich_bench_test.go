package enrich

import (
	"os"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/record"
)

// BenchmarkFill is the per-event cost of enrichment in the steady state:
// root, process and cgroup all cached.
func BenchmarkFill(b *testing.B) {
	x, err := New(Options{HostName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ev := bpf.Event{
		Op: bpf.OpWrite, Hook: bpf.ModeTracepoint, PID: uint32(os.Getpid()), TID: uint32(os.Getpid()),
		StartTime: 1, UID: 0, EUID: 0, GID: 0, LoginUID: 0, Mode: 0o100644, Bytes: 64,
		RootDev: x.roots.self.dev, RootIno: x.roots.self.ino, CgroupID: 1,
		Comm: []byte("bench"), Components: []byte("file.txt\x00data\x00home\x00"),
	}
	// As the kernel walks for a host process: past its root, "/", at the end.
	ev.Flags, ev.RootOff = bpf.FlagPassedRoot, len(ev.Components)
	x.procs.Observe(&bpf.Event{Op: bpf.OpExec, PID: ev.PID, StartTime: 1, Components: []byte("bench\x00bin\x00usr\x00"), Args: []byte("bench\x00-x\x00")})
	var r record.Record
	x.Fill(&ev, &r)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Fill(&ev, &r)
	}
}

// BenchmarkFillContainer is the same for a write from a Kubernetes
// container: cgroup path, container and pod metadata all cached.
func BenchmarkFillContainer(b *testing.B) {
	src := &fakeSource{name: "cri", serves: "cri", answers: map[string]Meta{testID: {
		Runtime: "containerd", Name: "app", Image: "shop/app:2", PodName: "web-0", PodNamespace: "shop",
		PodUID: "11111111-2222-3333-4444-555555555555",
	}}}
	x, err := New(Options{HostName: "bench", Metadata: NewMetadata(src)})
	if err != nil {
		b.Fatal(err)
	}
	const cgroupID = 1 << 40
	x.cgroups.paths[cgroupID] = "/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/" + testID
	ev := bpf.Event{
		Op: bpf.OpWrite, Hook: bpf.ModeTracepoint, PID: uint32(os.Getpid()), TID: uint32(os.Getpid()),
		StartTime: 1, Mode: 0o100644, Bytes: 64, LoginUID: bpf.UnsetLoginUID,
		RootDev: x.roots.self.dev, RootIno: x.roots.self.ino, CgroupID: cgroupID,
		Comm: []byte("bench"), Components: []byte("file.txt\x00data\x00"),
	}
	var r record.Record
	x.Fill(&ev, &r)
	if r.Orchestrator.ResourceName != "web-0" || r.Container.Name != "app" {
		b.Fatalf("not named: %+v %+v", r.Container, r.Orchestrator)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Fill(&ev, &r)
	}
}

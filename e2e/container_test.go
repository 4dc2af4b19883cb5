package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroup2Root finds where cgroup v2 is mounted, from mountinfo.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	t.Fatal("no cgroup2 mount: container detection needs the unified hierarchy")
	return ""
}

// containerRoot builds a root file system holding a static busybox and its
// own users, one of which the host does not have.
func containerRoot(t *testing.T, uid int) string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("the container root needs a static busybox: %v", err)
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "etc", "data", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "data"), 0o777); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(busybox)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(root, "bin", "busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	for _, applet := range []string{"sh", "sleep", "umount"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/:/bin/sh\nappuser:x:%d:%d::/data:/bin/sh\n", uid, uid)
	group := fmt.Sprintf("root:x:0:\nappgroup:x:%d:\n", uid)
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// inContainer starts script under /bin/sh in root, in a new mount and pid
// namespace, as uid, placed in the cgroup dir at birth.
func inContainer(t *testing.T, root, cgroup string, uid int, script string) *exec.Cmd {
	t.Helper()
	cg, err := os.Open(cgroup)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:      root,
		Cloneflags:  syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		UseCgroupFD: true,
		CgroupFD:    int(cg.Fd()),
	}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %q in the container: %v", script, err)
	}
	return cmd
}

// TestContainerWrites: writes from "containers" built in the test (a cgroup
// named as each runtime names its own, mount and pid namespaces, a chroot
// holding its own /etc/passwd) carry the container id and runtime, the pod
// uid for Kubernetes-shaped cgroups, the container's view of the path and
// the container's own user names, also when the writer exits at once.
func TestContainerWrites(t *testing.T) {
	requireRoot(t)
	const uid = 54321
	if names(t, "/etc/passwd")[uid] != "" {
		t.Fatalf("uid %d exists on this host; the test needs one that does not", uid)
	}
	cg2 := cgroup2Root(t)
	base := filepath.Join(cg2, "fsaudit-e2e-"+randHex(t, 4))
	t.Cleanup(func() { removeCgroups(base) })

	podUID := fmt.Sprintf("%s-%s-%s-%s-%s", randHex(t, 4), randHex(t, 2), randHex(t, 2), randHex(t, 2), randHex(t, 6))
	type ctr struct {
		name, cgroup, runtime, pod string
	}
	var cases []ctr
	for _, c := range []struct{ layout, runtime string }{
		{"system.slice/docker-%s.scope", "docker"},
		{"docker/%s", "docker"},
		{"system.slice/cri-containerd-%s.scope", "containerd"},
		{"machine.slice/crio-%s.scope", "cri-o"},
		{"machine.slice/libpod-%s.scope", "podman"},
		{"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-%s.scope", "containerd"},
		{"kubepods/besteffort/pod" + podUID + "/%s", "cri"},
	} {
		id := randHex(t, 32)
		pod := ""
		if strings.HasPrefix(c.layout, "kubepods") {
			pod = podUID
		}
		cases = append(cases, ctr{name: fmt.Sprintf("%s-%d", c.runtime, len(cases)), cgroup: filepath.Join(base, fmt.Sprintf(c.layout, id)), runtime: c.runtime + "|" + id, pod: pod})
		if err := os.MkdirAll(cases[len(cases)-1].cgroup, 0o755); err != nil {
			t.Fatalf("creating cgroup: %v", err)
		}
	}
	root := containerRoot(t, uid)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	// Paths are filtered in the writer's view: the containers' /data.
	agent := StartAgent(t, AgentConfig{Include: []string{"/data"}, Sink: sinkPath})

	pids := map[int]ctr{}
	for _, c := range cases {
		// Each container's "init" lives on while a short-lived writer
		// exits at once; the agent must still name the writer's users.
		init := inContainer(t, root, c.cgroup, uid, "sleep 30")
		t.Cleanup(func() { init.Process.Kill(); init.Wait() })
		w := inContainer(t, root, c.cgroup, uid, fmt.Sprintf("echo %s > /data/%s.txt", c.name, c.name))
		if err := w.Wait(); err != nil {
			t.Fatalf("writer in %s: %v", c.name, err)
		}
		pids[w.Process.Pid] = c
	}
	records := agent.Stop()

	seen := map[string]bool{}
	for _, r := range records {
		c, ok := pids[r.Process.PID]
		if !ok {
			t.Errorf("unexpected record: %s", r.Raw)
			continue
		}
		seen[c.name] = true
		runtime, id, _ := strings.Cut(c.runtime, "|")
		if r.File.Path != "/data/"+c.name+".txt" {
			t.Errorf("%s: file.path %q, want the container's view /data/%s.txt", c.name, r.File.Path, c.name)
		}
		if want := root + "/data/" + c.name + ".txt"; r.FSAudit.HostPath != want {
			t.Errorf("%s: fsaudit.host_path %q, want the host's view %q", c.name, r.FSAudit.HostPath, want)
		}
		if r.Container.ID != id || r.Container.Runtime != runtime {
			t.Errorf("%s: container %+v, want id %s runtime %s", c.name, r.Container, id, runtime)
		}
		if r.Container.Name != "" || r.Container.Image.Name != "" || r.Orchestrator.Resource.Name != "" {
			t.Errorf("%s: no runtime knows this container, yet the record names it: %+v %+v", c.name, r.Container, r.Orchestrator)
		}
		if r.Orchestrator.Resource.ID != c.pod || (c.pod != "" && r.Orchestrator.Resource.Type != "pod") {
			t.Errorf("%s: orchestrator %+v, want pod %q", c.name, r.Orchestrator, c.pod)
		}
		// The short-lived writer is named from its exec event, in its own view.
		if r.Process.Executable != "/bin/busybox" || len(r.Process.Args) != 3 || r.Process.Args[1] != "-c" {
			t.Errorf("%s: process.executable %q args %q, want /bin/busybox sh -c ...", c.name, r.Process.Executable, r.Process.Args)
		}
		if r.User.ID != fmt.Sprint(uid) || r.User.Name != "appuser" || r.User.Group.Name != "appgroup" {
			t.Errorf("%s: user %q (%q) group %q, want the container's appuser/appgroup", c.name, r.User.ID, r.User.Name, r.User.Group.Name)
		}
	}
	for _, c := range cases {
		if !seen[c.name] {
			t.Errorf("%s: no record", c.name)
		}
	}
}

// removeCgroups removes a cgroup tree, deepest first, once its processes left.
func removeCgroups(base string) {
	var dirs []string
	filepath.Walk(base, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for try := 0; try < 50; try++ {
			if err := os.Remove(dirs[i]); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestOverlayContainer: a "container" that pivots into an overlay root, as
// runtimes do. Its namespace's top is the overlay, so the kernel's walk ends
// there: the host's view must come from the overlay's upper directory.
func TestOverlayContainer(t *testing.T) {
	requireRoot(t)
	if rootIsRootfs(t) {
		t.Skip("pivot_root cannot leave an initramfs root (rootfs); the host tier runs this")
	}
	const uid = 54321
	lower := containerRoot(t, uid)
	base := tmpDir(t, "fsaudit-overlay-", 0)
	upper, work, merged := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting overlay: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(merged, syscall.MNT_DETACH) })

	agent := StartAgent(t, AgentConfig{Include: []string{"/data"}, Sink: filepath.Join(t.TempDir(), "audit.jsonl")})
	script := `cd "$1" && mkdir -p .old && pivot_root . .old && exec /bin/sh -c 'umount -l /.old; echo overlay > /data/ov.txt; exec sleep 30'`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", merged)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(filepath.Join(upper, "data", "ov.txt")); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container never wrote /data/ov.txt")
		}
		time.Sleep(20 * time.Millisecond)
	}
	records := agent.Stop()
	if len(records) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(records), records)
	}
	r := records[0]
	if r.Process.PID != cmd.Process.Pid || r.File.Path != "/data/ov.txt" || r.Process.Executable != "/bin/busybox" {
		t.Errorf("pid %d path %q executable %q, want %d /data/ov.txt /bin/busybox", r.Process.PID, r.File.Path, r.Process.Executable, cmd.Process.Pid)
	}
	if want := upper + "/data/ov.txt"; r.FSAudit.HostPath != want {
		t.Errorf("fsaudit.host_path %q, want the overlay's upper directory %q", r.FSAudit.HostPath, want)
	}
	if r.User.Name != "root" || r.User.Group.Name != "root" {
		t.Errorf("user %q group %q, from the container's files", r.User.Name, r.User.Group.Name)
	}
}

func rootIsRootfs(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == "/" {
			for i := 6; i+1 < len(f); i++ {
				if f[i] == "-" {
					return f[i+1] == "rootfs"
				}
			}
		}
	}
	return false
}

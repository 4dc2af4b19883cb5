package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The attacks of an unprivileged user on the agent itself: each case runs
// as nobody, beside a control (the same change made plainly, recorded).

// nobody is the unprivileged user the attacks run as.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// busyboxPath is a static busybox, which the jails below hold as their
// only program and which runs unshare and chroot for the attacker.
func busyboxPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("the attacks need a static busybox: %v", err)
	}
	return p
}

// jail builds a root directory for nobody: busybox, a writable /tmp, an
// /etc/group, and whatever passwd does to etc/passwd.
func jail(t *testing.T, base, name string, passwd func(etc string)) string {
	t.Helper()
	dir := filepath.Join(base, name)
	for _, d := range []string{"bin", "etc", "tmp", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(busyboxPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("jailgroup:x:65534:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	passwd(filepath.Join(dir, "etc"))
	// nobody owns its jail, as one it built itself.
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// inJail starts script in the jail dir as nobody made root of a user
// namespace of its own (unshare -r, then chroot: no privilege on the
// host), with /dev bound into the jail when bindDev.
func inJail(t *testing.T, dir string, bindDev bool, script string) *exec.Cmd {
	t.Helper()
	bb := busyboxPath(t)
	inner := fmt.Sprintf("exec %s chroot %s /bin/busybox sh -c %s", bb, dir, shQuote(script))
	args := []string{"unshare", "-r"}
	if bindDev {
		inner = fmt.Sprintf("%s mount --rbind /dev %s/dev && %s", bb, dir, inner)
		args = append(args, "-m")
	}
	cmd := exec.Command(bb, append(args, bb, "sh", "-c", inner)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	out, err := os.CreateTemp("", "fsaudit-jail-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(out.Name())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the jail %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		out.Close()
	})
	return cmd
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// waitExists polls for path, which another process makes.
func waitExists(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Lstat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not made within %v", path, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recordWithin polls the sink for a write record of path and fails when it
// comes later than within after the write.
func recordWithin(t *testing.T, sink, path string, within time.Duration) Record {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if data, err := os.ReadFile(sink); err == nil {
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.Contains(sc.Text(), strconv.Quote(path)) {
					for _, r := range ReadRecords(t, sink) {
						if r.File.Path == path || r.FSAudit.HostPath == path {
							return r
						}
					}
				}
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(sink)
			t.Fatalf("no record of %s within %v of the write; the sink holds:\n%s", path, within, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// agentRSS reads the agent's peak resident memory, in KiB.
func agentRSS(t *testing.T, a *Agent) (now, peak int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			now, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak, _ = strconv.Atoi(f[1])
		}
	}
	return now, peak
}

// maxAgentRSSKiB is the bound README states for the agent's resident
// memory through every attack.
const maxAgentRSSKiB = 160 << 10

// TestAdversaryEnrichment: a writer's root holds what the agent reads to
// name users, and the writer chooses what is there. Each case writes from
// a jail whose etc/passwd is hostile (a FIFO, /dev/zero by a link and by a
// bind mount, a 1 GiB sparse file, a loop of links, a link to the host's
// /etc/shadow and to a file outside the jail): the records of a writer
// outside keep coming within a second, the jail's own write is recorded,
// no name is taken from outside the jail, and the agent's memory stays
// bounded. The controls: a jail with a plain passwd, named from it, and
// one whose writer exits at once, named through the host's view of its root.
func TestAdversaryEnrichment(t *testing.T) {
	requireRoot(t)
	base := tmpDir(t, "fsaudit-adv-", 0o755)
	control := tmpDir(t, "fsaudit-adv-control-", 0o777)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	decoy := filepath.Join(t.TempDir(), "decoy-passwd")
	if err := os.WriteFile(decoy, []byte("LEAKED:x:65534:65534::/:/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := StartAgent(t, AgentConfig{Include: []string{base, control}, Sink: sinkPath})

	plain := func(etc string) {
		os.WriteFile(filepath.Join(etc, "passwd"), []byte("jailer:x:65534:65534::/:/bin/sh\n"), 0o644)
	}
	link := func(target string) func(string) {
		return func(etc string) { os.Symlink(target, filepath.Join(etc, "passwd")) }
	}
	cases := []struct {
		name    string
		passwd  func(etc string)
		bindDev bool
		stay    bool   // the writer lives on after its write
		user    string // the name the jail's write must carry
	}{
		{name: "control", passwd: plain, stay: true, user: "jailer"},
		{name: "control-exits-at-once", passwd: plain, user: "jailer"},
		{name: "fifo", passwd: func(etc string) { unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644) }, stay: true},
		{name: "dev-zero-link", passwd: link("/dev/zero"), stay: true},
		{name: "dev-zero-bound", passwd: link("/dev/zero"), bindDev: true, stay: true},
		{name: "sparse-1GiB", passwd: func(etc string) {
			os.WriteFile(filepath.Join(etc, "passwd"), nil, 0o644)
			os.Truncate(filepath.Join(etc, "passwd"), 1<<30)
		}, stay: true},
		{name: "link-loop", passwd: func(etc string) {
			os.Symlink("passwd2", filepath.Join(etc, "passwd"))
			os.Symlink("passwd", filepath.Join(etc, "passwd2"))
		}, stay: true},
		{name: "host-shadow", passwd: link("/etc/shadow"), stay: true},
		{name: "outside-file", passwd: link(decoy), stay: true},
		{name: "outside-dir", passwd: func(etc string) {
			os.Remove(filepath.Join(etc, "group"))
			os.Remove(etc)
			os.Symlink(filepath.Dir(decoy), etc)
		}, stay: true},
	}
	for i, c := range cases {
		dir := jail(t, base, c.name, c.passwd)
		if c.name == "outside-dir" {
			// The jail's etc leads to the decoy's directory; the decoy is
			// named passwd there.
			os.Rename(decoy, filepath.Join(filepath.Dir(decoy), "passwd"))
		}
		script := "echo attack > /tmp/w"
		if c.stay {
			script += "; /bin/busybox sleep 3"
		}
		start := time.Now()
		cmd := inJail(t, dir, c.bindDev, script)
		waitExists(t, filepath.Join(dir, "tmp", "w"), 30*time.Second)
		// The control: a plain write by another user, right after.
		ctl := filepath.Join(control, fmt.Sprintf("ctl-%d", i))
		sh(t, nobody, `echo control > "$1"`, ctl)
		r := recordWithin(t, sinkPath, ctl, time.Second)
		if r.User.ID != "65534" {
			t.Errorf("%s: the control's record: %s", c.name, r.Raw)
		}
		own := recordWithin(t, sinkPath, filepath.Join(dir, "tmp", "w"), time.Second)
		if own.File.Path != "/tmp/w" || own.User.ID != "65534" {
			t.Errorf("%s: the jail's write: file.path %q user %q, want /tmp/w, 65534: %s", c.name, own.File.Path, own.User.ID, own.Raw)
		}
		if own.User.Name != c.user {
			t.Errorf("%s: user.name %q, want %q: %s", c.name, own.User.Name, c.user, own.Raw)
		}
		if c.stay {
			cmd.Process.Kill()
		}
		cmd.Wait()
		rss, peak := agentRSS(t, agent)
		t.Logf("%s: control recorded, jail's write named %q (incomplete %v); agent RSS %d KiB, peak %d KiB, %v",
			c.name, own.User.Name, own.FSAudit.Incomplete, rss, peak, time.Since(start).Round(time.Millisecond))
		if peak > maxAgentRSSKiB {
			t.Errorf("%s: the agent's resident memory peaked at %d KiB, bound %d", c.name, peak, maxAgentRSSKiB)
		}
	}
	for _, r := range agent.Stop() {
		if strings.Contains(r.Raw, "LEAKED") {
			t.Errorf("a name from outside the jail: %s", r.Raw)
		}
	}
}

// TestOwnPIDNamespace: the agent in a pid namespace of its own (a
// DaemonSet without the host's pids, unshare -p) is pid 1 there. It must
// still leave its own spool and sink writes out, by its pid in the
// kernel's initial namespace (else each of its writes makes a record, whose
// writing makes another), and must not leave out the host's pid 1.
func TestOwnPIDNamespace(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-pidns-", 0o755)
	sinkPath := filepath.Join(dir, "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, SpoolDir: filepath.Join(dir, "spool"),
		Attr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}})
	want := fmt.Sprintf(`"kernel_pid":%d`, agent.cmd.Process.Pid)
	if !strings.Contains(agent.Log(), want) {
		t.Errorf("the agent's log does not say %s:\n%s", want, agent.Log())
	}
	outside := filepath.Join(dir, "outside.txt")
	pid := sh(t, nil, `echo outside > "$1"`, outside)
	waitRecords(t, sinkPath, 30*time.Second, "the outside write", func(rs []Record) bool { return len(rs) > 0 })
	// A loop would have made records of its own by now.
	time.Sleep(2 * time.Second)
	recs := agent.Stop()
	if len(recs) != 1 || recs[0].Process.PID != pid || recs[0].File.Path != outside {
		t.Errorf("want the one outside write by pid %d, got %d records:\n%s", pid, len(recs), dumpRecords(recs))
	}
}

// TestCgoBuildRefused: a binary built with cgo could not drop its
// capabilities in every thread, and would keep full root for its whole
// life: run refuses it in one line saying how to build it, and check fails.
func TestCgoBuildRefused(t *testing.T) {
	requireRoot(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build the agent with cgo (not in the kernel matrix's VMs)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("needs gcc to build the agent with cgo: scripts/test installs it")
	}
	bin := filepath.Join(t.TempDir(), "fsaudit-cgo")
	build := exec.Command(gobin, "build", "-o", bin, "../cmd/fsaudit")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building with cgo: %v\n%s", err, out)
	}
	conf := writeConfig(t, fmt.Sprintf("[[sink]]\nname = \"local\"\ntype = \"file\"\npath = %q\n", filepath.Join(t.TempDir(), "audit.jsonl")))
	for _, args := range [][]string{{"run", "--config", conf}, {"check", "--config", conf}} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		if code != 1 || !strings.Contains(string(out), "built with cgo") || !strings.Contains(string(out), "CGO_ENABLED=0") {
			t.Errorf("%s with a cgo build: exit %d (%v), want 1 and the reason:\n%s", args[0], code, err, out)
		}
	}
}

// helperAsNobody starts this test binary as helper name, run by nobody:
// a copy of the binary in a directory nobody may enter (go test builds it
// in one only root may).
func helperAsNobody(t *testing.T, name string, env ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := tmpDir(t, "fsaudit-helper-", 0o755)
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "e2e.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "FSAUDIT_E2E_HELPER="+name), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	cmd.Stderr = os.Stderr
	return cmd
}

// flood is the helper that opens FSAUDIT_E2E_CONNS connections to
// FSAUDIT_E2E_ADDR, says on stdout how many it holds, and keeps them idle
// until its standard input closes.
func flood() int {
	n, _ := strconv.Atoi(os.Getenv("FSAUDIT_E2E_CONNS"))
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", os.Getenv("FSAUDIT_E2E_ADDR"), 2*time.Second)
		if err != nil {
			break // the backlog is full: enough
		}
		conns = append(conns, c)
	}
	fmt.Printf("holding %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// openFDs counts a process's open file descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestMetricsFlood: a user who can reach the metrics port opens thousands of
// idle connections. The agent holds at most metrics.MaxConns of them (the
// rest wait in the kernel's backlog), its memory and descriptors stay
// bounded, records keep coming within a second, SIGHUP still rereads the
// config, and /metrics answers again once the flood ends.
func TestMetricsFlood(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-flood-", 0o777)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, Agent: `metrics_listen = "127.0.0.1:0"`})
	addr := agent.metricsAddr(t)
	pid := agent.cmd.Process.Pid
	before := openFDs(t, pid)
	// The control: a write before the flood.
	sh(t, nobody, `echo before > "$1"`, dir+"/before")
	recordWithin(t, sinkPath, dir+"/before", time.Second)

	cmd := helperAsNobody(t, "flood", "FSAUDIT_E2E_ADDR="+addr, "FSAUDIT_E2E_CONNS=3000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the flood helper: %v", err)
	}
	t.Logf("flood: %s", strings.TrimSpace(line))

	sh(t, nobody, `echo during > "$1"`, dir+"/during")
	recordWithin(t, sinkPath, dir+"/during", time.Second)
	if fds := openFDs(t, pid); fds > before+metricsMaxConns+8 {
		t.Errorf("the agent holds %d descriptors during the flood, %d before: bound %d more", fds, before, metricsMaxConns)
	}
	if _, peak := agentRSS(t, agent); peak > maxAgentRSSKiB {
		t.Errorf("the agent's resident memory peaked at %d KiB, bound %d", peak, maxAgentRSSKiB)
	}
	if err := agent.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(agent.Log(), `"message":"reloaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP during the flood: no reload:\n%s", agent.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}

	stdin.Close()
	cmd.Wait()
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz does not answer after the flood: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	agent.Stop()
}

// metricsMaxConns is metrics.MaxConns, which the tests cannot import
// without the agent's packages.
const metricsMaxConns = 32

// TestAdversaryCgroupName: a user to whom a cgroup subtree is delegated (as
// systemd does for each logged-in user) names a cgroup docker-<id>.scope
// and writes from it. That host process is no container: its record has no
// container fields (so a sink with containers = "none" keeps it), while the
// control, the same cgroup name made by root as a runtime does, is one.
func TestAdversaryCgroupName(t *testing.T) {
	requireRoot(t)
	cg2 := cgroup2Root(t)
	base := filepath.Join(cg2, "fsaudit-e2e-"+randHex(t, 4))
	t.Cleanup(func() { removeCgroups(base) })
	delegated := filepath.Join(base, "user-65534.slice")
	rootMade := filepath.Join(base, "system.slice", "docker-"+randHex(t, 32)+".scope")
	for _, d := range []string{delegated, rootMade} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Delegation: the directory and its interface files belong to the user.
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(delegated, f), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	dir := tmpDir(t, "fsaudit-cgname-", 0o777)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	hostOnly := filepath.Join(t.TempDir(), "host.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath,
		Extra: fmt.Sprintf("[[sink]]\nname = \"host\"\ntype = \"file\"\npath = %q\ncontainers = \"none\"\n", hostOnly)})

	run := func(cgroup, script string, args ...string) int {
		cg, err := os.Open(cgroup)
		if err != nil {
			t.Fatal(err)
		}
		defer cg.Close()
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody, UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		return runCmd(t, cmd)
	}
	fake := "docker-" + randHex(t, 32) + ".scope"
	attacker := run(delegated, `mkdir "$1/$2" && echo $$ > "$1/$2/cgroup.procs" && echo forged > "$3"`, delegated, fake, dir+"/forged")
	control := run(rootMade, `echo real > "$1"`, dir+"/real")
	recs := agent.Stop()
	got := map[int]Record{}
	for _, r := range recs {
		got[r.Process.PID] = r
	}
	if r, ok := got[attacker]; !ok {
		t.Errorf("no record of the write from the user's cgroup:\n%s", dumpRecords(recs))
	} else if r.Container.ID != "" {
		t.Errorf("a cgroup the user named %s made a container: %s", fake, r.Raw)
	}
	if r, ok := got[control]; !ok || r.Container.ID == "" || r.Container.Runtime != "docker" {
		t.Errorf("the control, a docker scope made by root, is not a container: %s", r.Raw)
	}
	hostRecs := ReadRecords(t, hostOnly)
	if len(hostRecs) != 1 || hostRecs[0].Process.PID != attacker {
		t.Errorf("the containers = \"none\" sink holds %d records, want the user's write alone:\n%s", len(hostRecs), dumpRecords(hostRecs))
	}
}

// setxattrHelper sets the attribute FSAUDIT_E2E_XATTR on each path in
// FSAUDIT_E2E_PATHS (separated by colons), through a directory descriptor
// that it opens as 99 from FSAUDIT_E2E_DIR: /proc/self/fd/99/... names.
func setxattrHelper() int {
	fd, err := unix.Open(os.Getenv("FSAUDIT_E2E_DIR"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err == nil && fd != 99 {
		err = unix.Dup2(fd, 99)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, p := range strings.Split(os.Getenv("FSAUDIT_E2E_PATHS"), ":") {
		if err := unix.Setxattr(p, os.Getenv("FSAUDIT_E2E_XATTR"), []byte("x"), 0); err != nil {
			fmt.Fprintln(os.Stderr, p, err)
			return 1
		}
	}
	// Alive a while: a path through /proc/self can be followed as its own.
	time.Sleep(time.Second)
	return 0
}

// TestAdversaryProcPaths: nobody names files through /proc's magic links
// (its descriptor 99 on a directory, its working directory), which the
// default exclusion of /proc would have dropped and which the agent's own
// /proc/self would have misnamed. Each change makes a record naming the
// file exactly, or the string given, marked fsaudit.path_unresolved (a
// writer gone before its path could be followed), never another file;
// beside the same changes made plainly (controls), named exactly.
func TestAdversaryProcPaths(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-procpath-", 0o777)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, f := range []string{"p-rm", "p-mv", "p-chmod", "p-cwd", "p-xattr", "c-rm", "c-mv", "c-chmod", "c-xattr"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chown(filepath.Join(dir, f), 65534, 65534)
	}
	// User attributes need a file system that has them (tmpfs only since
	// 6.6, as in the kernel matrix's VMs): probed before the agent starts.
	xattrs := unix.Setxattr(dir+"/c-xattr", "user.probe", []byte("x"), 0) == nil
	if xattrs {
		unix.Removexattr(dir+"/c-xattr", "user.probe")
	}
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath,
		Actions: []string{"create", "rename", "delete", "chmod", "xattr"},
		Filter:  `exclude_paths = ["/proc", "/sys", "/dev"]`})
	// Through /proc: a shell that lives on (busybox runs rm, mv, chmod
	// and mkdir in the shell itself), and children that exit at once.
	bbsh := func(script string, args ...string) {
		cmd := exec.Command(busyboxPath(t), append([]string{"sh", "-c", script, "sh"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
		runCmd(t, cmd)
	}
	bbsh(`exec 99<"$1"
rm /proc/self/fd/99/p-rm
mv /proc/self/fd/99/p-mv /proc/self/fd/99/p-moved
chmod 600 /proc/self/fd/99/p-chmod
mkdir /proc/self/fd/99/p-dir
cd "$1" && rm /proc/self/cwd/p-cwd`, dir)
	if xattrs {
		xa := helperAsNobody(t, "setxattr", "FSAUDIT_E2E_DIR="+dir, "FSAUDIT_E2E_XATTR=user.fsaudit",
			"FSAUDIT_E2E_PATHS=/proc/self/fd/99/p-xattr:"+dir+"/c-xattr")
		if err := xa.Run(); err != nil {
			t.Fatalf("setxattr helper: %v", err)
		}
	} else {
		t.Log("no user extended attributes on this file system: the attribute cases are left out")
	}
	// The controls, by plain paths.
	bbsh(`cd "$1" && rm c-rm && mv c-mv c-moved && chmod 600 c-chmod && mkdir c-dir`, dir)
	recs := agent.Stop()

	type change struct{ action, exact, given string }
	changes := []change{
		{"delete", dir + "/p-rm", "/proc/self/fd/99/p-rm"},
		{"rename", dir + "/p-mv", "/proc/self/fd/99/p-mv"},
		{"chmod", dir + "/p-chmod", "/proc/self/fd/99/p-chmod"},
		{"create", dir + "/p-dir", "/proc/self/fd/99/p-dir"},
		{"delete", dir + "/p-cwd", "/proc/self/cwd/p-cwd"},
		{"xattr", dir + "/p-xattr", "/proc/self/fd/99/p-xattr"},
		{"delete", dir + "/c-rm", ""},
		{"rename", dir + "/c-mv", ""},
		{"chmod", dir + "/c-chmod", ""},
		{"create", dir + "/c-dir", ""},
		{"xattr", dir + "/c-xattr", ""},
	}
	used := map[int]bool{}
	for _, c := range changes {
		if c.action == "xattr" && !xattrs {
			continue
		}
		found := false
		for i, r := range recs {
			if used[i] || r.Event.Action != c.action {
				continue
			}
			exact := r.File.Path == c.exact && !r.FSAudit.PathUnresolved
			unresolved := c.given != "" && r.File.Path == c.given && r.FSAudit.PathUnresolved
			if exact || unresolved {
				used[i], found = true, true
				t.Logf("%s %s: %s (unresolved %v)", c.action, c.exact, r.File.Path, r.FSAudit.PathUnresolved)
				break
			}
		}
		if !found {
			t.Errorf("no %s record naming %s (or %q, unresolved)", c.action, c.exact, c.given)
		}
	}
	for i, r := range recs {
		if !used[i] {
			t.Errorf("a record of no change made: %s", r.Raw)
		}
	}
}

// TestExcludeExecutables: exclude_comms matches a name any process may
// take; exclude_executables matches the program the kernel runs. nobody
// runs a copy of the excluded program under the same name: audited. The
// excluded program itself: not audited (the control of the exclusion).
func TestExcludeExecutables(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-exes-", 0o777)
	bin := tmpDir(t, "fsaudit-exes-bin-", 0o755)
	data, err := os.ReadFile(busyboxPath(t))
	if err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(bin, "quiettool")
	if err := os.WriteFile(tool, data, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: filepath.Join(t.TempDir(), "audit.jsonl"),
		Actions: []string{"write", "create"}, Filter: fmt.Sprintf("exclude_executables = [%q]", tool)})
	run := func(exe, file string) int {
		cmd := exec.Command(exe)
		cmd.Args = []string{"busybox", "sh", "-c", `echo x > "$1"`, "sh", file} // argv[0] picks busybox's applet
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
		return runCmd(t, cmd)
	}
	run(tool, dir+"/by-excluded")
	// The attack: the same program, copied by nobody under the same name.
	copyDir := filepath.Join(dir, "copy")
	sh(t, nobody, `mkdir "$1" && cp "$2" "$1/quiettool"`, copyDir, tool)
	copied := run(copyDir+"/quiettool", dir+"/by-copy")
	recs := agent.Stop()
	var got []string
	for _, r := range recs {
		if r.Process.PID == copied || strings.HasPrefix(r.File.Path, dir+"/by-") {
			got = append(got, r.Event.Action+" "+r.File.Path+" "+r.Process.Name)
		}
	}
	want := []string{"create " + dir + "/by-copy quiettool", "write " + dir + "/by-copy quiettool"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("records: got %q, want %q", got, want)
	}
}

// compat32Binary is a real 32-bit program (testdata/compat32.c): the one
// the kernel matrix puts in its VMs, else built here with gcc -m32.
func compat32Binary(t *testing.T) string {
	t.Helper()
	if p := "/bin/fsaudit-compat32"; fileExists(p) {
		return p
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("needs gcc with 32-bit support (gcc-multilib) to build testdata/compat32.c: scripts/test installs it")
	}
	dir := tmpDir(t, "fsaudit-compat32-", 0o755)
	bin := filepath.Join(dir, "compat32")
	if out, err := exec.Command(gcc, "-m32", "-static", "-O2", "-o", bin, "testdata/compat32.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc -m32 (gcc-multilib): %v\n%s", err, out)
	}
	return bin
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestAdversaryCompatABI: nobody changes files through the 32-bit system
// call ABI, for which no syscalls:sys_enter_<call> tracepoint fires: a
// 64-bit program through int $0x80 (a file opened natively, then written,
// truncated, renamed and unlinked), and a real 32-bit program. Every change
// is recorded, beside the same changes made natively (the control).
func TestAdversaryCompatABI(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-compat-", 0o777)
	bin := compat32Binary(t)
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: filepath.Join(t.TempDir(), "audit.jsonl"),
		Actions: []string{"write", "create", "truncate", "rename", "delete"}})
	h := helperAsNobody(t, "int80", "FSAUDIT_E2E_DIR="+dir)
	if err := h.Run(); err != nil {
		t.Fatalf("int80 helper: %v", err)
	}
	c32 := exec.Command(bin, dir)
	c32.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	pid32 := runCmd(t, c32)
	recs := agent.Stop()

	type change struct {
		pid          int
		action, path string
	}
	got := map[change]bool{}
	for _, r := range recs {
		got[change{r.Process.PID, r.Event.Action, r.File.Path}] = true
	}
	var want []change
	for _, name := range []string{"i80", "native"} {
		want = append(want, change{h.Process.Pid, "write", dir + "/" + name}, change{h.Process.Pid, "truncate", dir + "/" + name},
			change{h.Process.Pid, "rename", dir + "/" + name}, change{h.Process.Pid, "delete", dir + "/" + name + "-moved"})
	}
	want = append(want, change{pid32, "create", dir + "/c32"}, change{pid32, "write", dir + "/c32"},
		change{pid32, "truncate", dir + "/c32"}, change{pid32, "rename", dir + "/c32"}, change{pid32, "delete", dir + "/c32-moved"})
	for _, w := range want {
		if !got[w] {
			t.Errorf("no %s record of %s by pid %d", w.action, w.path, w.pid)
		}
	}
	if t.Failed() {
		t.Logf("records:\n%s", dumpRecords(recs))
	}
}

// backdated is the time the helper below sets files to: the classic way to
// hide a change from a forensic timeline.
var backdated = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// unhookedHelper makes, in FSAUDIT_E2E_DIR, the changes no hook saw
// before: a hole punched (fallocate), times set back (utimensat by path,
// futimens, utimes), and a plain write as the control; and, when
// FSAUDIT_E2E_REFLINK names a directory on a file system with reflinks,
// FICLONE, FICLONERANGE and FIDEDUPERANGE into files there.
func unhookedHelper() int {
	dir := os.Getenv("FSAUDIT_E2E_DIR")
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	content := make([]byte, 8192)
	for i := range content {
		content[i] = 'x'
	}
	for _, name := range []string{"punched", "dated", "fdated", "udated"} {
		if err := os.WriteFile(dir+"/"+name, content, 0o644); err != nil {
			return fail("write", err)
		}
	}
	fd, err := unix.Open(dir+"/punched", unix.O_WRONLY, 0)
	if err != nil {
		return fail("open", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4096, 4096); err != nil {
		return fail("fallocate", err)
	}
	unix.Close(fd)
	ts := []unix.Timespec{unix.NsecToTimespec(backdated.UnixNano()), unix.NsecToTimespec(backdated.UnixNano() + 7)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dir+"/dated", ts, 0); err != nil {
		return fail("utimensat", err)
	}
	if fd, err = unix.Open(dir+"/fdated", unix.O_RDONLY, 0); err != nil {
		return fail("open", err)
	}
	// futimens(3): utimensat(fd, NULL, times, 0) (x/sys's Futimes goes
	// through /proc/self/fd instead).
	fts := []unix.Timespec{unix.NsecToTimespec(backdated.UnixNano()), unix.NsecToTimespec(backdated.UnixNano())}
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&fts[0])), 0, 0, 0); e != 0 {
		return fail("futimens", e)
	}
	unix.Close(fd)
	if err := unix.Utimes(dir+"/udated", []unix.Timeval{unix.NsecToTimeval(backdated.UnixNano()), unix.NsecToTimeval(backdated.UnixNano())}); err != nil {
		return fail("utimes", err)
	}
	if err := os.WriteFile(dir+"/control", []byte("control"), 0o644); err != nil {
		return fail("write", err)
	}
	ref := os.Getenv("FSAUDIT_E2E_REFLINK")
	if ref == "" {
		return 0
	}
	for _, name := range []string{"src", "clone", "range", "dedupe"} {
		if err := os.WriteFile(ref+"/"+name, content, 0o644); err != nil {
			return fail("write", err)
		}
	}
	src, err := unix.Open(ref+"/src", unix.O_RDONLY, 0)
	if err != nil {
		return fail("open", err)
	}
	withDst := func(name string, f func(int) error) error {
		dst, err := unix.Open(ref+"/"+name, unix.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dst)
		return f(dst)
	}
	if err := withDst("clone", func(dst int) error { return unix.IoctlFileClone(dst, src) }); err != nil {
		return fail("FICLONE", err)
	}
	if err := withDst("range", func(dst int) error {
		return unix.IoctlFileCloneRange(dst, &unix.FileCloneRange{Src_fd: int64(src), Src_offset: 0, Src_length: 4096, Dest_offset: 4096})
	}); err != nil {
		return fail("FICLONERANGE", err)
	}
	if err := withDst("dedupe", func(dst int) error {
		r := &unix.FileDedupeRange{Src_offset: 0, Src_length: 4096, Info: []unix.FileDedupeRangeInfo{{Dest_fd: int64(dst), Dest_offset: 0}}}
		if err := unix.IoctlFileDedupeRange(src, r); err != nil {
			return err
		}
		if r.Info[0].Status != 0 {
			return fmt.Errorf("status %d", r.Info[0].Status)
		}
		return nil
	}); err != nil {
		return fail("FIDEDUPERANGE", err)
	}
	return 0
}

// xfsReflinks mounts a small XFS file system with reflinks (mkfs.xfs,
// xfsprogs) for the test, writable by everyone; "" where mkfs.xfs is
// missing (the kernel matrix's VMs).
func xfsReflinks(t *testing.T) string {
	t.Helper()
	mkfs, err := exec.LookPath("mkfs.xfs")
	if err != nil {
		return ""
	}
	dir := tmpDir(t, "fsaudit-xfs-", 0o755)
	img := filepath.Join(dir, "xfs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 320<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-f", "-m", "reflink=1", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v\n%s", err, out)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting the XFS image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	if err := os.Chmod(mnt, 0o777); err != nil {
		t.Fatal(err)
	}
	return mnt
}

// TestAdversaryUnhookedChanges: nobody changes content without write(2)
// (a hole punched with fallocate; a reflink and a dedupe into its files,
// on XFS where the test can make one) and sets a file's times back (the
// classic way to hide a change): each makes a record with the right
// fsaudit.via, bytes and offset, or the times set; beside a plain write.
func TestAdversaryUnhookedChanges(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-unhooked-", 0o777)
	ref := xfsReflinks(t)
	include := []string{dir}
	if ref != "" {
		include = append(include, ref)
	} else {
		t.Log("no mkfs.xfs: reflinks are not tried here (they are where scripts/test runs, which installs xfsprogs)")
	}
	agent := StartAgent(t, AgentConfig{Include: include, Sink: filepath.Join(t.TempDir(), "audit.jsonl"),
		Actions: []string{"write", "utimes"}})
	h := helperAsNobody(t, "unhooked", "FSAUDIT_E2E_DIR="+dir, "FSAUDIT_E2E_REFLINK="+ref)
	if err := h.Run(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	recs := agent.Stop()
	type want struct {
		action, path, via string
		bytes, offset     uint64
	}
	wants := []want{
		{"write", dir + "/control", "", 7, 0},
		{"write", dir + "/punched", "fallocate", 4096, 4096},
		{"utimes", dir + "/dated", "", 0, 0},
		{"utimes", dir + "/fdated", "", 0, 0},
		{"utimes", dir + "/udated", "", 0, 0},
	}
	if ref != "" {
		wants = append(wants, want{"write", ref + "/clone", "clone", 8192, 0}, want{"write", ref + "/range", "clone", 4096, 4096},
			want{"write", ref + "/dedupe", "clone", 4096, 0})
	}
	for _, w := range wants {
		var found *Record
		for i := range recs {
			r := &recs[i]
			if r.Event.Action == w.action && r.File.Path == w.path && r.Process.PID == h.Process.Pid && r.FSAudit.Via == w.via {
				found = r
			}
		}
		switch {
		case found == nil:
			t.Errorf("no %s record of %s (via %q)", w.action, w.path, w.via)
		case w.action == "write" && (found.FSAudit.Bytes != w.bytes || found.FSAudit.Offset != w.offset):
			t.Errorf("%s: bytes %d at %d, want %d at %d: %s", w.path, found.FSAudit.Bytes, found.FSAudit.Offset, w.bytes, w.offset, found.Raw)
		case w.action == "utimes":
			mtime := backdated
			if strings.HasSuffix(w.path, "/dated") {
				mtime = backdated.Add(7)
			}
			if found.File.Mtime != mtime.Format("2006-01-02T15:04:05.000000000Z") || found.File.Accessed != backdated.Format("2006-01-02T15:04:05.000000000Z") {
				t.Errorf("%s: mtime %q accessed %q, want %s and %s: %s", w.path, found.File.Mtime, found.File.Accessed, mtime, backdated, found.Raw)
			}
		}
	}
	if t.Failed() {
		t.Logf("records:\n%s", dumpRecords(recs))
	}
}

// TestAdversaryBindMount: a user binds an audited directory elsewhere in a
// mount namespace of its own and changes its files through that other
// name. The kernel's walk passes the audited directory's own dentry as the
// bind mount's root: the record names the file where the host has it
// (fsaudit.host_path), and the filter takes it there. A bind mount of the
// audited directory's parent, a file bound alone, and, beside them, a
// control changed by its plain path.
func TestAdversaryBindMount(t *testing.T) {
	requireRoot(t)
	top := tmpDir(t, "fsaudit-bindtop-", 0o755)
	dir := filepath.Join(top, "audited")
	alt := tmpDir(t, "fsaudit-bindalt-", 0o777)
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	for _, f := range []string{"b-write", "b-mv", "b-rm", "p-write", "f-write", "c-write", "h-mv", "h-rm"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chown(filepath.Join(dir, f), 65534, 65534)
	}
	// A bind mount the administrator made in the host's namespace: the
	// user's changes by path through it are named where the host has the
	// files in every mode (in tracepoint mode from the host's mount table).
	hostAlt := tmpDir(t, "fsaudit-bindhost-", 0o755)
	if err := unix.Mount(dir, hostAlt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount in the host's namespace: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(hostAlt, unix.MNT_DETACH) })
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath,
		Actions: []string{"write", "create", "rename", "delete"}})
	bb := busyboxPath(t)
	viaHost := exec.Command(bb, "sh", "-c", fmt.Sprintf("%[1]s mv %[2]s/h-mv %[2]s/h-moved && %[1]s rm %[2]s/h-rm", bb, hostAlt))
	viaHost.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	runCmd(t, viaHost)
	script := fmt.Sprintf(`set -e
%[1]s mkdir -p %[2]s/d %[2]s/p %[2]s/f
%[1]s mount --bind %[3]s %[2]s/d
%[1]s mount --bind %[4]s %[2]s/p
: > %[2]s/f/file
%[1]s mount --bind %[3]s/f-write %[2]s/f/file
echo bound >> %[2]s/d/b-write
echo parent >> %[2]s/p/audited/p-write
echo file >> %[2]s/f/file
echo new > %[2]s/d/b-new
%[1]s mv %[2]s/d/b-mv %[2]s/d/b-moved
%[1]s rm %[2]s/d/b-rm`, bb, alt, dir, top)
	cmd := exec.Command(bb, "unshare", "-r", "-m", bb, "sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the user's bind mounts: %v\n%s", err, out)
	}
	control := exec.Command(bb, "sh", "-c", "echo plain >> "+shQuote(dir+"/c-write"))
	control.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	runCmd(t, control)
	recs := agent.Stop()

	type change struct {
		action, host, own string
		// pathNamed: named by a path string, in which the tracepoint mode
		// walks no mount: kept there as unresolved (a user changed its
		// namespace's mounts), never dropped.
		pathNamed bool
	}
	changes := []change{
		{"write", dir + "/b-write", alt + "/d/b-write", false},
		{"write", dir + "/p-write", alt + "/p/audited/p-write", false},
		{"write", dir + "/f-write", alt + "/f/file", false},
		{"write", dir + "/b-new", alt + "/d/b-new", false},
		{"create", dir + "/b-new", alt + "/d/b-new", false}, // open(2) names it by the descriptor it returns
		{"rename", dir + "/b-mv", alt + "/d/b-mv", true},
		{"delete", dir + "/b-rm", alt + "/d/b-rm", true},
		{"write", dir + "/c-write", dir + "/c-write", false},
		{"rename", dir + "/h-mv", hostAlt + "/h-mv", false},
		{"delete", dir + "/h-rm", hostAlt + "/h-rm", false},
	}
	for _, c := range changes {
		found := false
		for _, r := range recs {
			if r.Event.Action != c.action || r.File.Path != c.own {
				continue
			}
			if c.pathNamed && *agentHook == "tracepoint" {
				if !r.FSAudit.PathUnresolved {
					t.Errorf("%s of %s through a user's bind mount: not marked path_unresolved", c.action, c.own)
				}
				found = true
				break
			}
			host := r.FSAudit.HostPath
			if host == "" {
				host = r.File.Path
			}
			if host != c.host {
				t.Errorf("%s of %s: host path %q, want %q", c.action, c.own, host, c.host)
			}
			found = true
			break
		}
		if !found {
			t.Errorf("no %s record of %s (through a bind mount of %s)", c.action, c.own, c.host)
		}
	}
}

// TestAdversaryHardLink: a user links a file of an audited directory from
// outside it and changes the file through that other name. Its content and
// attributes are the audited file's, whatever name reaches them: the kernel
// gives the link count, and a change to a file of more than one link is
// kept by every path filter. Beside it, a file of one link outside (not
// recorded) and a plain write inside (the control).
func TestAdversaryHardLink(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-linked-", 0o777)
	outside := tmpDir(t, "fsaudit-linkout-", 0o777)
	for _, f := range []string{dir + "/f", dir + "/g", dir + "/c", outside + "/single"} {
		if err := os.WriteFile(f, []byte("0123456789"), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chown(f, 65534, 65534)
	}
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath,
		Actions: []string{"write", "chmod", "truncate"}})
	bb := busyboxPath(t)
	cmd := exec.Command(bb, "sh", "-c", fmt.Sprintf(`set -e
%[1]s ln %[2]s/f %[3]s/l
echo through >> %[3]s/l
%[1]s chmod 600 %[3]s/l
%[1]s truncate -s 2 %[3]s/l
%[1]s ln %[2]s/g %[3]s/m
exec 7>>%[3]s/m
%[1]s rm %[3]s/m
echo stale >&7
exec 7>&-
echo alone >> %[3]s/single
echo plain >> %[2]s/c`, bb, dir, outside))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the user's link: %v\n%s", err, out)
	}
	recs := agent.Stop()
	type change struct {
		action, path string
		pathNamed    bool // named by a path string: the tracepoint mode has no inode for it
	}
	for _, c := range []change{
		{"write", outside + "/l", false},
		{"chmod", outside + "/l", true},
		{"truncate", outside + "/l", false}, // busybox truncate: open(2), ftruncate(2)
		{"write", dir + "/c", false},
		{"write", outside + "/m", false}, // through a descriptor whose link is gone
	} {
		found := false
		for _, r := range recs {
			if r.Event.Action != c.action || r.File.Path != c.path {
				continue
			}
			found = true
			switch {
			case c.path == dir+"/c":
			case c.path == outside+"/m":
				// The name is stale (unlinked, the file keeps its link
				// in the audited directory): kept as unresolved.
				if !r.FSAudit.PathUnresolved {
					t.Errorf("write through the unlinked second link %s: not marked path_unresolved", c.path)
				}
			case c.pathNamed && *agentHook == "tracepoint":
				// Named by a string, without the inode: the user made
				// hard links, so the record is kept as unresolved.
				if !r.FSAudit.PathUnresolved {
					t.Errorf("%s of %s by a user who made a hard link: not marked path_unresolved", c.action, c.path)
				}
			case r.FSAudit.Links != 2:
				t.Errorf("%s of %s: fsaudit.links %d, want 2", c.action, c.path, r.FSAudit.Links)
			}
		}
		if !found {
			t.Errorf("no %s record of %s", c.action, c.path)
		}
	}
	for _, r := range recs {
		if r.File.Path == outside+"/single" {
			t.Errorf("a %s record of a file of one link outside include_paths", r.Event.Action)
		}
	}
}

package e2e

import (
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// want is what the records of one file must add up to.
type want struct {
	path      string
	pid       int // 0: not checked (the workload cannot know it)
	comm      string
	uid       uint32
	user      string // expected user.name; "" means the field is absent
	bytes     uint64
	writes    int
	offsets   []uint64 // when set: the offsets of the records, in order
	exe       string   // when set: process.executable
	args      []string // when set: process.args
	deleted   bool
	truncated bool
}

// names reads an id -> name map from a passwd-format file, as the agent
// does, so expectations hold on hosts and in VMs alike.
func names(t *testing.T, file string) map[uint32]string {
	t.Helper()
	out := map[uint32]string{}
	data, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 4)
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := out[uint32(id)]; !dup {
				out[uint32(id)] = f[0]
			}
		}
	}
	return out
}

// realExe is the absolute, symlink-free path of a command, as the kernel
// names a process's executable.
func realExe(t *testing.T, cmd string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = filepath.Abs(p); err != nil {
		t.Fatal(err)
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func selfComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestCaptureWorkload is the capture core's proof: a workload of known
// writes, each asserted exactly, and nothing else; once per BPF object the
// kernel runs.
func TestCaptureWorkload(t *testing.T) {
	requireRoot(t)
	for _, obj := range objects(t) {
		t.Run(obj, func(t *testing.T) { captureWorkload(t, obj) })
	}
}

func captureWorkload(t *testing.T, object string) {
	w := tmpDir(t, "fsaudit-e2e-", 0o755) // another user writes below it
	outside := tmpDir(t, "fsaudit-e2e-outside-", 0)
	mkdir := func(p string) string {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Directories first: nothing the test does before the agent runs is audited.
	mkdir(filepath.Join(w, "rel"))
	mkdir(filepath.Join(w, "src"))
	mkdir(filepath.Join(w, "bind"))
	mkdir(filepath.Join(w, "tmpfsmnt"))
	mkdir(filepath.Join(w, "bin"))
	nobodyDir := mkdir(filepath.Join(w, "nobody"))
	if err := os.Chown(nobodyDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	deepDir := w + "/deep"
	for i := 1; i <= 60; i++ {
		deepDir += fmt.Sprintf("/d%02d", i)
	}
	mkdir(deepDir)
	if err := os.Symlink(filepath.Join(w, "target.txt"), filepath.Join(w, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(w, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	shPath, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shPath, filepath.Join(w, "bin", "skipme")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(filepath.Join(w, "src"), filepath.Join(w, "bind"), "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(w, "bind"), unix.MNT_DETACH) })

	sinkPath := filepath.Join(w, "agent", "audit.jsonl") // under an audited path: no feedback loop allowed
	agent := StartAgent(t, AgentConfig{Include: []string{w}, ExcludeComms: []string{"skipme"}, Sink: sinkPath, Object: object, Actions: allActions})

	users := names(t, "/etc/passwd")
	fileMode := createdMode(0o666)
	var changes []change
	created := func(path, comm string, uid uint32) {
		changes = append(changes, change{action: "create", path: path, via: "open", mode: fileMode, typ: "file", comm: comm, user: users[uid], inode: true})
	}
	me := selfComm(t)
	shExe, ddExe, selfExe := realExe(t, "sh"), realExe(t, "dd"), realExe(t, os.Args[0])
	var wants []want

	// Shell redirection, twice appended: offsets follow the file's size.
	pid := sh(t, nil, `echo hello > "$1" && echo hi >> "$1"`, w+"/redirect.txt")
	wants = append(wants, want{path: w + "/redirect.txt", pid: pid, comm: "sh", user: users[0], bytes: 9, writes: 2, offsets: []uint64{0, 6},
		exe: shExe, args: []string{"sh", "-c", `echo hello > "$1" && echo hi >> "$1"`, "sh", w + "/redirect.txt"}})
	created(w+"/redirect.txt", "sh", 0)

	// dd with many small writes.
	pid = runCmd(t, exec.Command("dd", "if=/dev/zero", "of="+w+"/dd.bin", "bs=64", "count=500"))
	wants = append(wants, want{path: w + "/dd.bin", pid: pid, comm: "dd", user: users[0], bytes: 64 * 500, writes: 500,
		exe: ddExe, args: []string{"dd", "if=/dev/zero", "of=" + w + "/dd.bin", "bs=64", "count=500"}})
	created(w+"/dd.bin", "dd", 0)

	// pwrite, writev, pwritev, pwritev2 from this process.
	f, err := os.OpenFile(w+"/vectored.bin", os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	mustN := func(n int, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustN(unix.Pwrite(fd, []byte("pwrite"), 100))
	mustN(unix.Writev(fd, [][]byte{[]byte("ab"), []byte("cde")}))
	mustN(unix.Pwritev(fd, [][]byte{[]byte("1234"), []byte("5678")}, 200))
	mustN(unix.Pwritev2(fd, [][]byte{[]byte("xyz")}, 300, 0))
	f.Close()
	// This process started before the agent: its executable and arguments come from /proc.
	wants = append(wants, want{path: w + "/vectored.bin", pid: os.Getpid(), comm: me, user: users[0], bytes: 6 + 5 + 8 + 3, writes: 4, offsets: []uint64{100, 0, 200, 300},
		exe: selfExe, args: os.Args})
	created(w+"/vectored.bin", me, 0)

	// Through a symlink: the record names the target.
	pid = sh(t, nil, `echo via-link > "$1"`, w+"/link")
	wants = append(wants, want{path: w + "/target.txt", pid: pid, comm: "sh", user: users[0], bytes: 9, writes: 1, exe: shExe})
	created(w+"/target.txt", "sh", 0)

	// A relative path.
	cmd := exec.Command("sh", "-c", "echo rel > ./r.txt")
	cmd.Dir = w + "/rel"
	pid = runCmd(t, cmd)
	wants = append(wants, want{path: w + "/rel/r.txt", pid: pid, comm: "sh", user: users[0], bytes: 4, writes: 1})
	created(w+"/rel/r.txt", "sh", 0)

	// Through a bind mount: the path it was opened by.
	pid = sh(t, nil, `echo bound > "$1"`, w+"/bind/b.txt")
	wants = append(wants, want{path: w + "/bind/b.txt", pid: pid, comm: "sh", user: users[0], bytes: 6, writes: 1})
	created(w+"/bind/b.txt", "sh", 0)

	// A private tmpfs in another mount namespace.
	cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs fsaudit-e2e "$1" && echo private > "$1/t.txt"`, "sh", w+"/tmpfsmnt")
	pid = runCmd(t, cmd)
	wants = append(wants, want{path: w + "/tmpfsmnt/t.txt", pid: pid, comm: "sh", user: users[0], bytes: 8, writes: 1, exe: shExe})
	created(w+"/tmpfsmnt/t.txt", "sh", 0)

	// A hostile file name: spaces, quotes, a newline, non-ASCII letters.
	hostile := w + "/we ird \"q\" 'x'\nżółw ✓.txt"
	pid = sh(t, nil, `printf 'hostile' > "$1"`, hostile)
	wants = append(wants, want{path: hostile, pid: pid, comm: "sh", user: users[0], bytes: 7, writes: 1})
	created(hostile, "sh", 0)

	// 60 levels deep.
	pid = sh(t, nil, `echo deep > "$1"`, deepDir+"/f.txt")
	wants = append(wants, want{path: deepDir + "/f.txt", pid: pid, comm: "sh", user: users[0], bytes: 5, writes: 1})
	created(deepDir+"/f.txt", "sh", 0)

	// Another user.
	pid = sh(t, &syscall.Credential{Uid: 65534, Gid: 65534}, `echo nobody > "$1"`, nobodyDir+"/n.txt")
	wants = append(wants, want{path: nobodyDir + "/n.txt", pid: pid, comm: "sh", uid: 65534, user: users[65534], bytes: 7, writes: 1, exe: shExe})
	created(nobodyDir+"/n.txt", "sh", 65534)

	// Unlinked while open: the last path, marked deleted.
	pid = sh(t, nil, `exec 3>"$1" && rm "$1" && echo gone >&3`, w+"/gone.txt")
	wants = append(wants, want{path: w + "/gone.txt", pid: pid, comm: "sh", user: users[0], bytes: 5, writes: 1, deleted: true})
	created(w+"/gone.txt", "sh", 0)
	changes = append(changes, pathChange(agent.PointModes(), change{action: "delete", path: w + "/gone.txt", via: "unlink", comm: "rm", user: users[0]}, fileMode, "file"))

	// None of these may appear: outside the include path, a FIFO, a
	// character device, an excluded command name.
	sh(t, nil, `echo out > "$1"`, outside+"/o.txt")
	sh(t, nil, `cat "$1" > /dev/null & echo fifo > "$1"; wait`, w+"/fifo")
	sh(t, nil, `echo null > /dev/null`)
	skip := exec.Command(filepath.Join(w, "bin", "skipme"), "-c", `echo skipped > "$1"`, "sh", w+"/skipped.txt")
	skip.Args[0] = "sh" // busybox picks its applet by argv[0]; the kernel's comm comes from the file name
	runCmd(t, skip)

	modes := agent.PointModes()
	records := agent.Stop()
	checkRecords(t, records, wants, w, sinkPath)
	checkHooks(t, records, modes)
	checkChanges(t, records, changes, w)
}

// checkRecords checks the write records against wants, and what every
// record must hold.
func checkRecords(t *testing.T, records []Record, wants []want, root, sinkPath string) {
	t.Helper()
	logSummary(t, records, root)
	byPath := map[string][]Record{}
	var seqs []uint64
	ids := map[string]bool{}
	for _, r := range records {
		seqs = append(seqs, r.Event.Sequence)
		if ids[r.Event.ID] {
			t.Errorf("duplicate event.id %s", r.Event.ID)
		}
		ids[r.Event.ID] = true
		if r.Event.Action == "lost" {
			t.Errorf("the kernel lost %d events", r.FSAudit.Lost)
			continue
		}
		if r.File.Path == sinkPath || strings.HasPrefix(r.File.Path, filepath.Dir(sinkPath)+"/") {
			t.Errorf("the agent audited its own sink: %s", r.Raw)
		}
		if !strings.HasPrefix(r.File.Path, root+"/") && !strings.HasPrefix(r.File.TargetPath, root+"/") {
			t.Errorf("record outside the include path %s: %s", root, r.Raw)
		}
		if r.Event.Action == "write" {
			byPath[r.File.Path] = append(byPath[r.File.Path], r)
		}
	}
	for _, r := range ReadAllRecords(t, sinkPath) {
		if r.Event.Action == "seal" { // numbered like every record
			seqs = append(seqs, r.Event.Sequence)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Errorf("event.sequence is not gap-free from 1: position %d holds %d", i, s)
			break
		}
	}
	for _, wt := range wants {
		got := byPath[wt.path]
		delete(byPath, wt.path)
		t.Run(filepath.Base(wt.path), func(t *testing.T) {
			if len(got) != wt.writes {
				t.Fatalf("%q: %d records, want %d", wt.path, len(got), wt.writes)
			}
			var total uint64
			for i, r := range got {
				total += r.FSAudit.Bytes
				if r.Event.Action != "write" || r.FSAudit.Writes != 1 {
					t.Errorf("action %q writes %d: %s", r.Event.Action, r.FSAudit.Writes, r.Raw)
				}
				if wt.pid != 0 && r.Process.PID != wt.pid {
					t.Errorf("pid %d, want %d", r.Process.PID, wt.pid)
				}
				if r.Process.Name != wt.comm {
					t.Errorf("process.name %q, want %q", r.Process.Name, wt.comm)
				}
				if wt.exe != "" && r.Process.Executable != wt.exe {
					t.Errorf("process.executable %q, want %q", r.Process.Executable, wt.exe)
				}
				if wt.args != nil && strings.Join(r.Process.Args, "\x00") != strings.Join(wt.args, "\x00") {
					t.Errorf("process.args %q, want %q", r.Process.Args, wt.args)
				}
				if r.User.ID != strconv.FormatUint(uint64(wt.uid), 10) || r.User.Name != wt.user {
					t.Errorf("user %q (%q), want %d (%q)", r.User.ID, r.User.Name, wt.uid, wt.user)
				}
				if r.File.Name != filepath.Base(wt.path) || r.File.Directory != filepath.Dir(wt.path) {
					t.Errorf("file.name %q file.directory %q", r.File.Name, r.File.Directory)
				}
				if r.File.Type != "file" {
					t.Errorf("file.type %q", r.File.Type)
				}
				// A bind mount's file is named where the host mounts its
				// file system too; no other writer here has a host path.
				wantHost := ""
				if rest, ok := strings.CutPrefix(wt.path, root+"/bind/"); ok {
					wantHost = root + "/src/" + rest
				}
				if r.FSAudit.HostPath != wantHost {
					t.Errorf("fsaudit.host_path %q, want %q", r.FSAudit.HostPath, wantHost)
				}
				if r.FSAudit.Deleted != wt.deleted || r.FSAudit.PathTruncated != wt.truncated {
					t.Errorf("deleted %v truncated %v: %s", r.FSAudit.Deleted, r.FSAudit.PathTruncated, r.Raw)
				}
				if wt.offsets != nil && r.FSAudit.Offset != wt.offsets[i] {
					t.Errorf("record %d: offset %d, want %d", i, r.FSAudit.Offset, wt.offsets[i])
				}
			}
			if total != wt.bytes {
				t.Errorf("bytes %d, want %d", total, wt.bytes)
			}
		})
	}
	for p, rs := range byPath {
		t.Errorf("unexpected records for %q: %d, first: %s", p, len(rs), rs[0].Raw)
	}
}

// TestDeepPaths: 128 components within 4096 bytes resolve exactly; a path
// longer than 4096 bytes is marked truncated and keeps its leaf end.
func TestDeepPaths(t *testing.T) {
	requireRoot(t)
	for _, obj := range objects(t) {
		t.Run(obj, func(t *testing.T) { deepPaths(t, obj) })
	}
}

func deepPaths(t *testing.T, object string) {
	w := tmpDir(t, "fsaudit-deep-", 0)
	t.Cleanup(func() { exec.Command("rm", "-rf", w).Run() }) // before tmpDir's own cleanup: a tree past PATH_MAX

	// 128 components: the directories, then the file, filling most of 4096 bytes.
	comp := strings.Repeat("c", (4000-len(w))/128-1)
	exact := w
	for i := 0; i < 127; i++ {
		exact += "/" + comp
	}
	if err := os.MkdirAll(exact, 0o755); err != nil {
		t.Fatal(err)
	}
	exact += "/" + comp[:len(comp)-4] + ".txt"
	if len(exact) > 4095 {
		t.Fatalf("test path is %d bytes", len(exact))
	}

	// Longer than PATH_MAX: built one directory at a time relative to the
	// last, as no single path-taking syscall accepts it.
	long := strings.Repeat("L", 200)
	dirfd, err := unix.Open(w, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if err := unix.Mkdirat(dirfd, long, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(dirfd, long, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(dirfd)
		dirfd = next
	}
	defer unix.Close(dirfd)

	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{w}, Sink: sinkPath, Object: object})
	pidExact := sh(t, nil, `echo exact > "$1"`, exact)
	fd, err := unix.Openat(dirfd, "leaf.txt", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte("long\n")); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	pidLong := os.Getpid()
	records := agent.Stop()

	var gotExact, gotLong []Record
	for _, r := range records {
		switch r.Process.PID {
		case pidExact:
			gotExact = append(gotExact, r)
		case pidLong:
			gotLong = append(gotLong, r)
		default:
			t.Errorf("unexpected record: %s", r.Raw)
		}
	}
	if len(gotExact) != 1 || gotExact[0].File.Path != exact || gotExact[0].FSAudit.PathTruncated {
		t.Errorf("128-component path (%d bytes): %d records, want exactly %q untruncated: %+v", len(exact), len(gotExact), exact, gotExact)
	}
	if len(gotLong) != 1 {
		t.Fatalf("long path: %d records, want 1", len(gotLong))
	}
	r := gotLong[0]
	if !r.FSAudit.PathTruncated || strings.HasPrefix(r.File.Path, "/") || !strings.HasSuffix(r.File.Path, "/"+long+"/leaf.txt") || r.File.Name != "leaf.txt" {
		t.Errorf("long path: truncated %v, path %d bytes ending %q", r.FSAudit.PathTruncated, len(r.File.Path), r.File.Path[max(0, len(r.File.Path)-220):])
	}
	if len(r.File.Path) > 4096 {
		t.Errorf("truncated path is %d bytes, more than the kernel's buffer", len(r.File.Path))
	}
}

// logSummary logs one line per file: what its records say apart from what
// differs from run to run (pids, inodes, devices, times, ids, the hook).
// The kernel matrix compares these lines across hook modes on one kernel.
func logSummary(t *testing.T, records []Record, root string) {
	t.Helper()
	type sum struct {
		n, bytes uint64
		offsets  hash.Hash64
		first    Record
	}
	byPath := map[string]*sum{}
	var paths []string
	for _, r := range records {
		key := r.File.Path + "\x00" + r.Event.Action
		s := byPath[key]
		if s == nil {
			s = &sum{offsets: fnv.New64a(), first: r}
			byPath[key] = s
			paths = append(paths, key)
		}
		s.n++
		s.bytes += r.FSAudit.Bytes
		fmt.Fprintf(s.offsets, "%d,", r.FSAudit.Offset)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s := byPath[p]
		r := s.first
		p, _, _ = strings.Cut(p, "\x00")
		// What only a VFS hook can tell of a file named by a path (its
		// mode) differs between modes by design: writes only.
		mode, typ, exe := r.File.Mode, r.fileType(), r.Process.Executable
		if r.Event.Action != "write" {
			// Nor the executable of a short-lived tool that busybox runs
			// without an exec (rm): named from /proc only while it lives.
			mode, typ, exe = "-", "-", "-"
		}
		t.Logf("summary: %s", strings.Join([]string{t.Name(),
			strconv.Quote(strings.Replace(p, root, "$W", 1)), r.Event.Action,
			strconv.Quote(strings.Replace(r.File.TargetPath, root, "$W", 1)), r.FSAudit.Via,
			strconv.Quote(r.File.Name), mode, typ,
			fmt.Sprintf("records=%d bytes=%d offsets=%x", s.n, s.bytes, s.offsets.Sum64()),
			fmt.Sprintf("deleted=%v truncated=%v", r.FSAudit.Deleted, r.FSAudit.PathTruncated),
			strconv.Quote(r.Process.Name), strconv.Quote(exe), "uid=" + r.User.ID, "user=" + r.User.Name, "euid=" + r.User.Effective.ID,
		}, " "))
	}
}

// TestLoginUID: a write after logging in as one user and dropping to another
// names both: user.* the one who wrote, user.audit.* the one who logged in.
func TestLoginUID(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/proc/self/loginuid"); err != nil {
		t.Fatalf("kernel keeps no login uid (CONFIG_AUDIT): %v", err)
	}
	w := tmpDir(t, "fsaudit-loginuid-", 0o777)
	users := names(t, "/etc/passwd")
	agent := StartAgent(t, AgentConfig{Include: []string{w}, Sink: filepath.Join(t.TempDir(), "audit.jsonl")})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// "Log in" as root (login uid 0), then become nobody and write.
	cmd := exec.Command("sh", "-c", `echo 0 > /proc/self/loginuid && exec "$0"`, self)
	cmd.Env = append(os.Environ(), "FSAUDIT_E2E_HELPER=write-as", "FSAUDIT_E2E_UID=65534",
		"FSAUDIT_E2E_PATH="+w+"/after-su.txt", "FSAUDIT_E2E_DATA=written as nobody")
	pid := runCmd(t, cmd)
	records := agent.Stop()
	if len(records) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(records), records)
	}
	r := records[0]
	if r.Process.PID != pid || r.File.Path != w+"/after-su.txt" || r.FSAudit.Bytes != uint64(len("written as nobody")) {
		t.Errorf("record: pid %d path %q bytes %d", r.Process.PID, r.File.Path, r.FSAudit.Bytes)
	}
	if r.User.ID != "65534" || r.User.Name != users[65534] || r.User.Effective.ID != "65534" {
		t.Errorf("user %q (%q) effective %q, want 65534 (%q)", r.User.ID, r.User.Name, r.User.Effective.ID, users[65534])
	}
	if r.User.Audit.ID != "0" || r.User.Audit.Name != users[0] {
		t.Errorf("user.audit %q (%q), want 0 (%q)", r.User.Audit.ID, r.User.Audit.Name, users[0])
	}
}

// TestExcludeUIDs: a task whose real and effective uids are both excluded
// is left out in the kernel, for writes and every other change; one whose
// effective uid is not (a setuid program run by an excluded user) is not.
func TestExcludeUIDs(t *testing.T) {
	requireRoot(t)
	w := tmpDir(t, "fsaudit-uids-", 0o777)
	agent := StartAgent(t, AgentConfig{Include: []string{w}, Sink: filepath.Join(t.TempDir(), "audit.jsonl"),
		Actions: []string{"write", "create"}, Filter: "exclude_uids = [65533, 4242]"})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	writeAs := func(name string, uid, euid int) {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "FSAUDIT_E2E_HELPER=write-as", fmt.Sprintf("FSAUDIT_E2E_UID=%d", uid),
			fmt.Sprintf("FSAUDIT_E2E_EUID=%d", euid), "FSAUDIT_E2E_PATH="+w+"/"+name, "FSAUDIT_E2E_DATA="+name)
		runCmd(t, cmd)
	}
	writeAs("excluded.txt", 65533, 65533)
	writeAs("setuid.txt", 65533, 0)
	writeAs("other.txt", 65532, 65532)
	records := agent.Stop()
	got := map[string][]string{}
	for _, r := range records {
		if r.Event.Action == "lost" {
			continue
		}
		got[r.File.Path] = append(got[r.File.Path], r.Event.Action+" "+r.User.ID+"/"+r.User.Effective.ID)
	}
	want := map[string][]string{
		w + "/setuid.txt": {"create 65533/0", "write 65533/0"},
		w + "/other.txt":  {"create 65532/65532", "write 65532/65532"},
	}
	for _, v := range got {
		slices.Sort(v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records by path:\n got %v\nwant %v", got, want)
	}
}

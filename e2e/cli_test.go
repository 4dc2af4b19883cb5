package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
)

// TestBadConfigOneLine: a broken config stops run and check at once with
// one line naming the file, line and key.
func TestBadConfigOneLine(t *testing.T) {
	requireRoot(t)
	conf := writeConfig(t, "[agent]\nhook = \"auto\"\n\n[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/tmp/x\"\ncolour = \"red\"\n")
	for _, sub := range []string{"run", "check"} {
		code, stdout, stderr := runAgentCmd(t, sub, "--config", conf)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", sub, code)
		}
		want := conf + ":8: sink[0].colour: unknown key"
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("%s: output does not name the key and line (%q):\nstdout: %s\nstderr: %s", sub, want, stdout, stderr)
		}
		if sub == "run" && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("run: error is not one line: %q", stderr)
		}
	}
}

// TestCheckReportsMode: check on this kernel exits 0 and names the mode
// auto picks for each hook point.
func TestCheckReportsMode(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	conf := writeConfig(t, fmt.Sprintf("[[sink]]\nname = \"a\"\ntype = \"file\"\npath = %q\n", dir+"/audit.jsonl"))
	code, stdout, stderr := runAgentCmd(t, "check", "--config", conf)
	if code != 0 {
		t.Fatalf("check exit %d:\n%s%s", code, stdout, stderr)
	}
	for _, point := range []string{"write", "syscalls"} {
		if !strings.Contains(stdout, "\n  "+point+"\n") || !strings.Contains(stdout, "-> hook = auto takes ") {
			t.Errorf("check does not report hook point %s:\n%s", point, stdout)
		}
	}
	if !strings.Contains(stdout, "result: run would start") {
		t.Errorf("check output:\n%s", stdout)
	}
	// As root, every capability run needs is there; the lockdown line is
	// the kernel's own.
	for _, c := range []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"} {
		if !strings.Contains(stdout, "  ok   "+c+" (") {
			t.Errorf("check does not report %s as held:\n%s", c, stdout)
		}
	}
	if b, err := os.ReadFile("/sys/kernel/security/lockdown"); err == nil {
		if want := "lockdown: " + strings.TrimSpace(string(b)); !strings.Contains(stdout, want) && !strings.Contains(stdout, "WARN kernel lockdown is confidentiality") {
			t.Errorf("check lacks %q:\n%s", want, stdout)
		}
	} else if !strings.Contains(stdout, "lockdown: not reported by this kernel") {
		t.Errorf("check does not say lockdown is not reported:\n%s", stdout)
	}
	// The coverage table has every row, and the rows auto does not see are
	// the ones listed with their reasons.
	unseen := checkUnseen(t, stdout, "auto")
	for _, ch := range bpf.Channels {
		row := ""
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, fmt.Sprintf("  %-10s %s ", ch.Action, ch.Way)) {
				row = l
			}
		}
		if row == "" {
			t.Errorf("coverage table lacks %s %s", ch.Action, ch.Way)
			continue
		}
		f := strings.Fields(row)
		if auto := f[len(f)-1]; (auto == "no") != unseen[ch.Action+", "+ch.Way] {
			t.Errorf("%s %s: auto column %q, but the not-seen list says %v", ch.Action, ch.Way, auto, unseen[ch.Action+", "+ch.Way])
		}
	}
	if _, err := os.Stat(dir + "/audit.jsonl"); err == nil {
		t.Error("check created the sink file")
	}
}

// checkUnseen reads the "not seen with hook = HOOK:" list of check's output:
// "action, way" of each row, to its reason.
func checkUnseen(t *testing.T, stdout, hook string) map[string]bool {
	t.Helper()
	head := "not seen with hook = " + hook + ":\n"
	i := strings.Index(stdout, head)
	if i < 0 {
		t.Fatalf("check output has no %q:\n%s", head, stdout)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(stdout[i+len(head):], "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		for _, ch := range bpf.Channels {
			if key := ch.Action + ", " + ch.Way; strings.HasPrefix(l, "  "+key+": ") {
				out[key] = true
			}
		}
	}
	return out
}

// TestForcedMissingModeFails: forcing a mode this kernel cannot attach
// fails at start with one line naming it. Kernels with every mode skip.
func TestForcedMissingModeFails(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sinkConf := fmt.Sprintf("[[sink]]\nname = \"a\"\ntype = \"file\"\npath = %q\n", dir+"/audit.jsonl")
	code, stdout, _ := runAgentCmd(t, "check", "--config", writeConfig(t, sinkConf))
	if code != 0 {
		t.Fatalf("check exit %d:\n%s", code, stdout)
	}
	missing := ""
	for _, m := range []string{"fentry", "kprobe"} {
		if strings.Contains(stdout, fmt.Sprintf("    %-10s no: ", m)) {
			missing = m
			break
		}
	}
	if missing == "" {
		t.Skip("this kernel attaches every mode")
	}
	code, _, stderr := runAgentCmd(t, "run", "--config", writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[spool]\ndir = %q\n%s", missing, dir+"/spool", sinkConf)))
	if code != 1 {
		t.Fatalf("run with hook = %s: exit %d, want 1", missing, code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "fsaudit: hook "+missing+": cannot attach") {
		t.Errorf("last line does not name the mode: %q", last)
	}
	if _, err := os.Stat(dir + "/audit.jsonl"); err != nil {
		t.Logf("sink file not left behind: %v", err)
	}
}

// TestSIGHUPReopensSink: after a log rotator moves the file, SIGHUP makes
// the agent write to a new file at the configured path; nothing is lost.
func TestSIGHUPReopensSink(t *testing.T) {
	requireRoot(t)
	w := t.TempDir()
	sinkPath := filepath.Join(w, "log", "audit.jsonl")
	data := filepath.Join(w, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := StartAgent(t, AgentConfig{Include: []string{data}, Sink: sinkPath})
	sh(t, nil, `echo before > "$1"`, data+"/before.txt")
	// Wait for the record to reach the file before moving it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(sinkPath)
		if bytes.Contains(b, []byte("before.txt")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record never reached the sink:\n%s", agent.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Rename(sinkPath, sinkPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := agent.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(agent.Log(), `"message":"reloaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not take SIGHUP:\n%s", agent.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sh(t, nil, `echo after > "$1"`, data+"/after.txt")
	after := agent.Stop()
	before := ReadRecords(t, sinkPath+".1")
	if len(before) != 1 || before[0].File.Path != data+"/before.txt" {
		t.Errorf("moved file holds %d records: %+v", len(before), before)
	}
	if len(after) != 1 || after[0].File.Path != data+"/after.txt" {
		t.Errorf("reopened file holds %d records: %+v", len(after), after)
	}
}

var checkObject = regexp.MustCompile(`bpf object: (\w+) `)

// objects lists the BPF objects this kernel runs: the one the agent picks,
// and the compat object too when the pick is bpf_loop.
func objects(t *testing.T) []string {
	t.Helper()
	conf := writeConfig(t, fmt.Sprintf("[[sink]]\nname = \"a\"\ntype = \"file\"\npath = %q\n", t.TempDir()+"/a.jsonl"))
	code, stdout, stderr := runAgentCmd(t, "check", "--config", conf)
	m := checkObject.FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("check exit %d, no object named:\n%s%s", code, stdout, stderr)
	}
	if m[1] == "bpf_loop" {
		return []string{"bpf_loop", "compat"}
	}
	return []string{m[1]}
}

// TestCapabilitiesDropped: once attached, the agent keeps only the
// capabilities it still needs, in every thread and in its bounding set.
func TestCapabilitiesDropped(t *testing.T) {
	requireRoot(t)
	agent := StartAgent(t, AgentConfig{Include: []string{t.TempDir()}, Sink: filepath.Join(t.TempDir(), "audit.jsonl")})
	defer agent.Stop()
	const want = 1<<2 | 1<<19 | 1<<38 | 1<<39 // DAC_READ_SEARCH, SYS_PTRACE, PERFMON, BPF
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", agent.cmd.Process.Pid))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of the agent: %v %v", tasks, err)
	}
	for _, task := range tasks {
		data, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(data), "\n") {
			for _, field := range []string{"CapEff:", "CapPrm:", "CapBnd:"} {
				if v, ok := strings.CutPrefix(line, field); ok {
					var got uint64
					fmt.Sscanf(strings.TrimSpace(v), "%x", &got)
					if got != want {
						t.Errorf("%s %s %016x, want %016x", task, field, got, uint64(want))
					}
				}
			}
		}
	}
}

// TestCheckSinksAndAgent: check dials a real rsyslogd over TCP and TLS,
// warns about a receiver that is down (exit 0, 1 with --strict), and fails
// on what stops run: a taken metrics address, a spool that cannot be made.
func TestCheckSinksAndAgent(t *testing.T) {
	requireRoot(t)
	pki := writePKI(t, t.TempDir())
	r := startRsyslogd(t, pki)
	dead := freePorts(t, 1)[0]
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	syslogSink := func(name, addr, extra string) string {
		return fmt.Sprintf("[[sink]]\nname = %q\ntype = \"syslog\"\naddress = %q\n%s\n", name, addr, extra)
	}
	for _, tc := range []struct {
		name, conf string
		agent      string // keys of [agent]
		strict     bool
		code       int
		want       []string
	}{
		{"receiver up", syslogSink("tcp", fmt.Sprintf("tcp://127.0.0.1:%d", r.ports["tcp"]), "") +
			syslogSink("tls", fmt.Sprintf("tls://127.0.0.1:%d", r.ports["tls"]), fmt.Sprintf("tls_ca_file = %q\ntls_server_name = \"localhost\"", pki.CA)),
			"", true, 0, []string{"ok   tcp: syslog tcp://127.0.0.1:", "ok   tls: syslog tls://127.0.0.1:", "result: run would start\n"}},
		{"receiver down", syslogSink("s", fmt.Sprintf("tcp://127.0.0.1:%d", dead), ""), "", false, 0,
			[]string{"WARN s: ", "connection refused", "result: run would start, with 1 warning\n"}},
		{"receiver down, strict", syslogSink("s", fmt.Sprintf("tcp://127.0.0.1:%d", dead), ""), "", true, 1,
			[]string{"WARN s: ", "(exit 1: --strict)"}},
		{"bad CA file", syslogSink("s", fmt.Sprintf("tls://127.0.0.1:%d", r.ports["tls"]), fmt.Sprintf("tls_ca_file = %q", notDir)), "", false, 1,
			[]string{"FAIL s: tls_ca_file " + notDir + ": no PEM certificate in it", "result: run would not start"}},
		{"metrics address taken", fmt.Sprintf("[[sink]]\nname = \"f\"\ntype = \"file\"\npath = %q\n", t.TempDir()+"/a.jsonl"),
			fmt.Sprintf("metrics_listen = %q\n", taken.Addr().String()), false, 1,
			[]string{"FAIL metrics_listen " + taken.Addr().String() + ": ", "address already in use", "result: run would not start (1 check failed"}},
		{"spool not a directory", fmt.Sprintf("[spool]\ndir = %q\n[[sink]]\nname = \"f\"\ntype = \"file\"\npath = %q\n", notDir, t.TempDir()+"/a.jsonl"), "", false, 1,
			[]string{"FAIL spool " + notDir + ": not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := tc.conf
			if !strings.Contains(conf, "[spool]") {
				conf = fmt.Sprintf("[spool]\ndir = %q\n", t.TempDir()) + conf
			}
			args := []string{"check", "--config", writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n%s", *agentHook, tc.agent)+conf)}
			if tc.strict {
				args = append(args, "--strict")
			}
			code, stdout, stderr := runAgentCmd(t, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
		})
	}
}

// TestUnsafeFilesRefused: run does not start, and check fails, on a key or
// password file others may read or that is a link, and on a file sink in a
// directory others may write; each with one line naming the file. Nothing
// is written through the link or into the directory.
func TestUnsafeFilesRefused(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	if err := os.WriteFile(loose, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(dir, "linked.jsonl")
	if err := os.Symlink(victim, linked); err != nil {
		t.Fatal(err)
	}
	// A user (nobody) plants a link at the sink's name in a directory
	// anyone may write, before the agent makes the file.
	shared := tmpDir(t, "fsaudit-shared-", os.ModeSticky|0o777)
	planted := filepath.Join(shared, "audit.jsonl")
	sh(t, nobody, `ln -s "$1" "$2"`, victim, planted)
	if st, err := os.Lstat(planted); err != nil || st.Mode()&os.ModeSymlink == 0 || st.Sys().(*syscall.Stat_t).Uid != nobody.Uid {
		t.Fatalf("nobody's link was not planted: %v %v", st, err)
	}
	fileSink := func(path string) string {
		return fmt.Sprintf("[[sink]]\nname = \"local\"\ntype = \"file\"\npath = %q\n", path)
	}
	safeSink := fileSink(filepath.Join(dir, "log", "audit.jsonl"))
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"key readable by others", fmt.Sprintf("[chain]\nkey_file = %q\n", loose) + safeSink,
			"chain key_file " + loose + ": mode 0644 lets group or others read or change it; want 0600 or 0400"},
		{"key through a link", fmt.Sprintf("[chain]\nkey_file = %q\n", link) + safeSink,
			"chain key_file " + link + ": is a symbolic link, which is not followed"},
		{"password readable by others", safeSink + fmt.Sprintf("[[sink]]\nname = \"k\"\ntype = \"kafka\"\nbrokers = [\"127.0.0.1:9\"]\ntopic = \"t\"\ntls = true\n"+
			"sasl_mechanism = \"plain\"\nsasl_username = \"u\"\nsasl_password_file = %q\n", loose),
			"sink k: sasl_password_file " + loose + ": mode 0644 lets group or others read or change it"},
		{"sink in a sticky world-writable directory", fileSink(filepath.Join(open, "audit.jsonl")),
			"directory " + open + " is writable by group or others (mode 1777): insecure permissions"},
		{"sink path a link", fileSink(linked), "is a symbolic link: a file sink never follows one"},
		{"a link nobody planted", fileSink(planted), "directory " + shared + " is writable by group or others (mode 1777): insecure permissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[spool]\ndir = %q\n%s", *agentHook, t.TempDir(), tc.conf))
			code, _, stderr := runAgentCmd(t, "run", "--config", conf)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, "fsaudit: ") || !strings.Contains(last, tc.want) {
				t.Errorf("run: exit %d, last line %q; want 1 and a line with %q", code, last, tc.want)
			}
			code, stdout, _ := runAgentCmd(t, "check", "--config", conf)
			if code != 1 || !strings.Contains(stdout, "  FAIL ") || !strings.Contains(stdout, tc.want) {
				t.Errorf("check: exit %d; want 1 and a FAIL line with %q:\n%s", code, tc.want, stdout)
			}
		})
	}
	if b, err := os.ReadFile(victim); err != nil || len(b) != 0 {
		t.Errorf("victim: %q, %v", b, err)
	}
	// The control: the same sink in a directory only root may write.
	conf := writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[spool]\ndir = %q\n%s", *agentHook, t.TempDir(), safeSink))
	if _, stdout, _ := runAgentCmd(t, "check", "--config", conf); !strings.Contains(stdout, "ok   local: file "+filepath.Join(dir, "log", "audit.jsonl")) {
		t.Errorf("check of the control sink:\n%s", stdout)
	}
	if entries, _ := os.ReadDir(open); len(entries) != 0 {
		t.Errorf("the refused directory holds %d entries", len(entries))
	}
}

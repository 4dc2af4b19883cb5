package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// deployFile reads a file of the repository's deploy/ directory.
func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Skipf("deploy/%s is not here (the test runs from the repository's e2e directory): %v", name, err)
	}
	return string(b)
}

// TestLogrotate: deploy/logrotate/fsaudit, run by the real logrotate twice
// while a process writes, loses no record, and the hash chain runs on
// through the rotated files (the older one compressed).
func TestLogrotate(t *testing.T) {
	requireRoot(t)
	bin := requireTool(t, "logrotate")
	conf := deployFile(t, "logrotate/fsaudit")
	dir := tmpDir(t, "fsaudit-logrotate-", 0)
	logDir := filepath.Join(t.TempDir(), "log")
	sinkPath := filepath.Join(logDir, "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, Extra: `rotation = "external"`})

	// The shipped config, for this sink and this agent's pid.
	if !strings.Contains(conf, "/var/log/fsaudit/audit.jsonl {") || !strings.Contains(conf, "systemctl kill --signal=HUP") {
		t.Fatalf("deploy/logrotate/fsaudit no longer names the sink or signals the agent:\n%s", conf)
	}
	conf = strings.Replace(conf, "/var/log/fsaudit/audit.jsonl {", sinkPath+" {", 1)
	conf = regexp.MustCompile(`systemctl kill[^\n]*`).ReplaceAllString(conf, fmt.Sprintf("kill -HUP %d", a.cmd.Process.Pid))
	confPath := filepath.Join(t.TempDir(), "logrotate.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	rotate := func() {
		t.Helper()
		reloads := strings.Count(a.Log(), `"message":"reloaded"`)
		out, err := exec.Command(bin, "-f", "-s", state, confPath).CombinedOutput()
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
		for deadline := time.Now().Add(30 * time.Second); strings.Count(a.Log(), `"message":"reloaded"`) == reloads; {
			if time.Now().After(deadline) {
				t.Fatalf("the agent did not take logrotate's SIGHUP:\n%s", a.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// One record per write (no coalescing), every 5 ms, from before the
	// first rotation to after the second.
	var writes int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.Create(filepath.Join(dir, "busy"))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := fmt.Fprintf(f, "line %d\n", writes); err != nil {
				t.Error(err)
				return
			}
			writes++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	waitRecords(t, sinkPath, time.Minute, "the first writes", func(recs []Record) bool { return len(recs) >= 50 })
	rotate()
	time.Sleep(time.Second)
	rotate()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	a.Stop()

	files := []string{sinkPath + ".2.gz", sinkPath + ".1", sinkPath}
	total := 0
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("after two rotations: %v", err)
		}
		if !strings.HasSuffix(f, ".gz") {
			n := len(ReadRecords(t, f))
			if n == 0 {
				t.Errorf("%s holds no record", f)
			}
			total += n
		}
	}
	out, err := exec.Command(agentPath(), append([]string{"verify"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("verify %v: %v\n%s", files, err, out)
	}
	// verify counts every record of the three files, and the seals: the
	// run's start and stop, and the one each reopened file starts with.
	if m := regexp.MustCompile(`(\d+) records`).FindSubmatch(out); m == nil {
		t.Errorf("verify output: %s", out)
	} else if got := string(m[1]); got != fmt.Sprint(writes+4) {
		t.Errorf("the three files hold %s records, want %d (%d in the two uncompressed ones): %s", got, writes, total, out)
	}
}

// capabilityList reads the capabilities of the systemd unit's
// CapabilityBoundingSet and of the DaemonSet's capabilities.add.
func capabilityList(t *testing.T) []string {
	t.Helper()
	unit := deployFile(t, "systemd/fsaudit.service")
	m := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("fsaudit.service has no CapabilityBoundingSet")
	}
	var fromUnit []string
	for _, c := range strings.Fields(m[1]) {
		fromUnit = append(fromUnit, strings.TrimPrefix(c, "CAP_"))
	}
	ds := deployFile(t, "kubernetes/fsaudit.yaml")
	m = regexp.MustCompile(`(?m)^\s+add: \[(.*)\]$`).FindStringSubmatch(ds)
	if m == nil {
		t.Fatal("fsaudit.yaml has no capabilities add list")
	}
	var fromDS []string
	for _, c := range strings.Split(m[1], ",") {
		fromDS = append(fromDS, strings.Trim(strings.TrimSpace(c), `"`))
	}
	slices.Sort(fromUnit)
	slices.Sort(fromDS)
	if !slices.Equal(fromUnit, fromDS) {
		t.Errorf("the unit's capabilities %v differ from the DaemonSet's %v", fromUnit, fromDS)
	}
	return fromUnit
}

// TestDeployedCapabilities: with no capability but those the systemd unit
// and the DaemonSet grant (as root, as both run it), the agent starts,
// audits, drops what it no longer needs, and check passes.
func TestDeployedCapabilities(t *testing.T) {
	requireRoot(t)
	setpriv := requireTool(t, "setpriv")
	var caps []string
	for _, c := range capabilityList(t) {
		n, ok := capNumbers[c]
		if !ok {
			t.Fatalf("unknown capability %s in deploy/", c)
		}
		// This test can only grant what it holds itself (a container
		// running the tests may lack CAP_SYS_RESOURCE, which only kernels
		// before 5.11 need).
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); in == 1 {
			caps = append(caps, "+"+strings.ToLower(c))
		} else {
			t.Logf("%s is not in this process's bounding set: not granted", c)
		}
	}
	set := "-all," + strings.Join(caps, ",")
	wrap := []string{setpriv, "--inh-caps=" + set, "--ambient-caps=" + set, "--bounding-set=" + set, "--"}

	dir := tmpDir(t, "fsaudit-caps-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, Wrap: wrap})
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs := waitRecords(t, sinkPath, time.Minute, "the write", func(recs []Record) bool { return len(recs) > 0 })
	if recs[0].File.Path != filepath.Join(dir, "x") || recs[0].Process.Executable == "" {
		t.Errorf("record without its path or executable: %+v", recs[0])
	}
	a.Stop()
	if log := a.Log(); strings.Contains(log, "capabilities not dropped") || !strings.Contains(log, `"message":"capabilities dropped"`) {
		t.Errorf("capabilities were not dropped:\n%s", log)
	}

	cmd := exec.Command(setpriv, append(wrap[1:], agentPath(), "check", "--strict", "--config",
		writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[spool]\ndir = %q\n[[sink]]\nname = \"f\"\ntype = \"file\"\npath = %q\n", *agentHook, t.TempDir(), sinkPath)))...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok   CAP_BPF") {
		t.Errorf("check with the deployed capabilities: %v\n%s", err, out)
	}
}

// capNumbers are the capabilities deploy/ may name.
var capNumbers = map[string]int{
	"BPF": unix.CAP_BPF, "PERFMON": unix.CAP_PERFMON, "SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "SYS_RESOURCE": unix.CAP_SYS_RESOURCE,
	"SYS_ADMIN": unix.CAP_SYS_ADMIN, "NET_ADMIN": unix.CAP_NET_ADMIN, "SETPCAP": unix.CAP_SETPCAP,
}

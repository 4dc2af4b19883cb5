// Package e2e holds fsaudit's end-to-end tests: the real agent binary,
// attached to the running kernel, audits a workload of known file
// operations, and the tests assert the exact records its sinks received.
//
// The package runs as root on the host (tracepoint mode there) and, built
// with `go test -c`, as a static binary inside the kernel-matrix VMs with
// -fsaudit.bin and -fsaudit.hook naming the agent and the mode.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/internal/specs"
	"github.com/fsaudit/fsaudit/record"
)

var (
	agentBin  = flag.String("fsaudit.bin", "", "fsaudit binary to test (default: build ./cmd/fsaudit)")
	agentHook = flag.String("fsaudit.hook", "tracepoint", "hook mode the agent is forced to")
)

// builtAgent is the binary TestMain built when -fsaudit.bin was not given.
var builtAgent string

// suiteCleanups run after every test, for servers the tests share.
var suiteCleanups []func()

func TestMain(m *testing.M) {
	switch os.Getenv("FSAUDIT_E2E_HELPER") {
	case "write-as":
		os.Exit(writeAs())
	case "reuse-inodes":
		os.Exit(reuseInodes())
	case "flood":
		os.Exit(flood())
	case "setxattr":
		os.Exit(setxattrHelper())
	case "int80":
		os.Exit(int80Helper())
	case "unhooked":
		os.Exit(unhookedHelper())
	}
	flag.Parse()
	code := func() int {
		if *agentBin == "" && os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "fsaudit-e2e-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			builtAgent = filepath.Join(dir, "fsaudit")
			// Without cgo, as shipped: the agent can then drop capabilities.
			cmd := exec.Command("go", "build", "-o", builtAgent, "../cmd/fsaudit")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "building the agent: %v\n", err)
				return 1
			}
		}
		defer func() {
			for i := len(suiteCleanups) - 1; i >= 0; i-- {
				suiteCleanups[i]()
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

// writeAs is the test binary run as a helper: it drops to the uid in
// FSAUDIT_E2E_UID and writes FSAUDIT_E2E_DATA to FSAUDIT_E2E_PATH.
func writeAs() int {
	var uid int
	if _, err := fmt.Sscan(os.Getenv("FSAUDIT_E2E_UID"), &uid); err != nil {
		fmt.Fprintln(os.Stderr, "FSAUDIT_E2E_UID:", err)
		return 2
	}
	if err := syscall.Setgid(uid); err != nil {
		fmt.Fprintln(os.Stderr, "setgid:", err)
		return 1
	}
	// FSAUDIT_E2E_EUID, when set, keeps another effective uid, as a setuid
	// program run by the user has.
	euid := uid
	if v := os.Getenv("FSAUDIT_E2E_EUID"); v != "" {
		if _, err := fmt.Sscan(v, &euid); err != nil {
			fmt.Fprintln(os.Stderr, "FSAUDIT_E2E_EUID:", err)
			return 2
		}
	}
	if err := syscall.Setresuid(uid, euid, euid); err != nil {
		fmt.Fprintln(os.Stderr, "setresuid:", err)
		return 1
	}
	if err := os.WriteFile(os.Getenv("FSAUDIT_E2E_PATH"), []byte(os.Getenv("FSAUDIT_E2E_DATA")), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the agent loads BPF programs and the workload mounts file systems")
	}
}

// Agent is a running fsaudit process.
type Agent struct {
	t      testing.TB
	cmd    *exec.Cmd
	Sink   string // the file sink's path
	mu     sync.Mutex
	log    bytes.Buffer
	exited chan error
}

// AgentConfig says what the agent under test watches.
type AgentConfig struct {
	Include      []string
	ExcludeComms []string
	Sink         string
	Object       string // the BPF object to force (FSAUDIT_BPF_OBJECT); empty: the agent picks
	Extra        string // TOML tables added to the config
	SpoolDir     string // default: a new directory for this agent
	NoSpool      bool   // [spool] dir = "": records wait in memory only
	Agent        string // more keys of [agent]
	Filter       string // more keys of [filter]
	// Actions audited; nil: writes only, which most tests are about.
	Actions []string
	// Window is [coalesce] window; empty: "0s", one record per write.
	Window string
	// Wrap runs the agent through a command (e.g. setpriv ... --).
	Wrap []string
	// Attr starts the agent in namespaces of its own, and the like.
	Attr *syscall.SysProcAttr
	// Env adds to the agent's environment.
	Env []string
}

// StartAgent runs the agent with a config for cfg and returns once it
// logged that it captures.
func StartAgent(t testing.TB, cfg AgentConfig) *Agent {
	t.Helper()
	bin := *agentBin
	if bin == "" {
		bin = builtAgent
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.toml")
	actions := cfg.Actions
	if actions == nil {
		actions = []string{"write"}
	}
	window := cfg.Window
	if window == "" {
		window = "0s"
	}
	spoolDir := cfg.SpoolDir
	if spoolDir == "" && !cfg.NoSpool {
		spoolDir = filepath.Join(dir, "spool")
	}
	text := fmt.Sprintf(`[agent]
hook = %q
log_level = "debug"
%s
[filter]
include_paths = %s
exclude_comms = %s
actions = %s
%s
[coalesce]
window = %q

[spool]
dir = %q

[[sink]]
name = "local"
type = "file"
path = %q

%s
`, *agentHook, cfg.Agent, tomlList(cfg.Include), tomlList(cfg.ExcludeComms), tomlList(actions), cfg.Filter, window, spoolDir, cfg.Sink, cfg.Extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Agent{t: t, Sink: cfg.Sink, exited: make(chan error, 1)}
	a.cmd = exec.Command(bin, "run", "--config", conf)
	if len(cfg.Wrap) > 0 {
		a.cmd = exec.Command(cfg.Wrap[0], append(cfg.Wrap[1:], bin, "run", "--config", conf)...)
	}
	a.cmd.Env = append(append(os.Environ(), "FSAUDIT_BPF_OBJECT="+cfg.Object), cfg.Env...)
	a.cmd.SysProcAttr = cfg.Attr
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			a.mu.Lock()
			a.log.Write(sc.Bytes())
			a.log.WriteByte('\n')
			a.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), `"message":"capturing"`) {
				if cfg.Object != "" && !strings.Contains(sc.Text(), `"bpf":"`+cfg.Object+`"`) {
					t.Errorf("agent did not load the %s object: %s", cfg.Object, sc.Text())
				}
				close(ready)
				signalled = true
			}
		}
		io.Copy(io.Discard, stderr)
		a.exited <- a.cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-a.exited:
		t.Fatalf("agent exited before capturing (%v):\n%s", err, a.Log())
	case <-time.After(2 * time.Minute):
		a.cmd.Process.Kill()
		t.Fatalf("agent did not start capturing:\n%s", a.Log())
	}
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
		}
	})
	return a
}

func tomlList(xs []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", x)
	}
	b.WriteByte(']')
	return b.String()
}

// Log is what the agent wrote to stderr so far.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// PointModes reads, from the agent's log, the mode each hook point took
// ("" for those that took none).
func (a *Agent) PointModes() map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(a.Log(), "\n") {
		var l struct{ Message, Point, Mode string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Message, "hook point ") {
			out[l.Point] = l.Mode
		}
	}
	return out
}

// Stop sends SIGTERM, waits for a clean exit and returns the records the
// file sink holds.
func (a *Agent) Stop() []Record {
	a.t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.t.Fatal(err)
	}
	select {
	case err := <-a.exited:
		if err != nil {
			a.t.Fatalf("agent exited with %v:\n%s", err, a.Log())
		}
	case <-time.After(2 * time.Minute):
		a.cmd.Process.Kill()
		a.t.Fatalf("agent did not stop:\n%s", a.Log())
	}
	return ReadRecords(a.t, a.Sink)
}

// Record is the part of the JSON record the tests look at.
// fileType is the file's type: ECS file.type (file, dir, symlink) or
// fsaudit.file_type (the others).
func (r Record) fileType() string { return r.File.Type + r.FSAudit.FileType }

type Record struct {
	Timestamp string `json:"@timestamp"`
	Event     struct {
		Action   string `json:"action"`
		ID       string `json:"id"`
		Sequence uint64 `json:"sequence"`
		Start    string `json:"start"`
		End      string `json:"end"`
	} `json:"event"`
	File struct {
		Path       string  `json:"path"`
		Name       string  `json:"name"`
		Directory  string  `json:"directory"`
		Inode      string  `json:"inode"`
		Device     string  `json:"device"`
		Mode       string  `json:"mode"`
		Type       string  `json:"type"`
		TargetPath string  `json:"target_path"`
		UID        string  `json:"uid"`
		GID        string  `json:"gid"`
		Owner      string  `json:"owner"`
		Group      string  `json:"group"`
		Size       *uint64 `json:"size"`
		Mtime      string  `json:"mtime"`
		Accessed   string  `json:"accessed"`
	} `json:"file"`
	Process struct {
		PID        int      `json:"pid"`
		Name       string   `json:"name"`
		Executable string   `json:"executable"`
		Args       []string `json:"args"`
		Parent     struct {
			PID int `json:"pid"`
		} `json:"parent"`
	} `json:"process"`
	User struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Effective struct {
			ID string `json:"id"`
		} `json:"effective"`
		Group struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"group"`
		Audit struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"audit"`
	} `json:"user"`
	Container struct {
		ID      string `json:"id"`
		Runtime string `json:"runtime"`
		Name    string `json:"name"`
		Image   struct {
			Name string `json:"name"`
		} `json:"image"`
	} `json:"container"`
	Orchestrator struct {
		Namespace string `json:"namespace"`
		Resource  struct {
			Type string `json:"type"`
			Name string `json:"name"`
			ID   string `json:"id"`
		} `json:"resource"`
	} `json:"orchestrator"`
	FSAudit struct {
		FileType       string `json:"file_type"`
		Hook           string `json:"hook"`
		Bytes          uint64 `json:"bytes"`
		Writes         uint64 `json:"writes"`
		Offset         uint64 `json:"offset"`
		PathTruncated  bool   `json:"path_truncated"`
		PathUnresolved bool   `json:"path_unresolved"`
		HostPath       string `json:"host_path"`
		Deleted        bool   `json:"deleted"`
		Links          uint32 `json:"links"`
		Lost           uint64 `json:"lost"`
		Via            string `json:"via"`
		Xattr          struct {
			Name string `json:"name"`
		} `json:"xattr"`
		RenameFlags    []string          `json:"rename_flags"`
		TargetHostPath string            `json:"target_host_path"`
		Incomplete     []string          `json:"incomplete"`
		ArgsTruncated  bool              `json:"args_truncated"`
		RawBytes       map[string]string `json:"raw_bytes"`
		Seal           *struct {
			Reason string `json:"reason"`
			Epoch  uint64 `json:"epoch"`
		} `json:"seal"`
		Chain struct {
			Seq uint64 `json:"seq"`
		} `json:"chain"`
	} `json:"fsaudit"`
	Raw string `json:"-"`
}

// ReadRecords parses a JSON-lines file strictly, every line one record,
// and returns the records of file changes and losses: the seal records
// of the sink's chain are left out (ReadAllRecords keeps them).
func ReadRecords(t testing.TB, path string) []Record {
	t.Helper()
	var out []Record
	for _, r := range ReadAllRecords(t, path) {
		if r.Event.Action != "seal" {
			out = append(out, r)
		}
	}
	return out
}

// ReadAllRecords parses a JSON-lines file strictly: every line one record.
func ReadAllRecords(t testing.TB, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the sink: %v", err)
	}
	var out []Record
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r Record
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("sink line %d is not a JSON record: %v: %q", i+1, err, line)
		}
		r.Raw = string(line)
		checkECS(t, line)
		out = append(out, r)
	}
	return out
}

var (
	ecsOnce sync.Once
	ecsSpec *specs.ECS
	ecsErr  error
)

// checkECS holds every record the tests read to ECS (package specs): each
// field one ECS defines, of its type and allowed values, or fsaudit's own.
// Without the specification's data the check is left out, except in CI.
func checkECS(t testing.TB, line []byte) {
	t.Helper()
	ecsOnce.Do(func() {
		var dir string
		if dir, ecsErr = specs.Dir(); ecsErr == nil {
			ecsSpec, ecsErr = specs.LoadECS(dir, record.ECSVersion)
		}
	})
	if ecsErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ECS %s: %v", record.ECSVersion, ecsErr)
		}
		return
	}
	for _, err := range ecsSpec.Check(line) {
		t.Errorf("record is not ECS %s: %v\n%s", record.ECSVersion, err, line)
	}
}

// sh runs a shell command line with args $1.. and returns its pid.
func sh(t testing.TB, cred *syscall.Credential, script string, args ...string) int {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return runCmd(t, cmd)
}

func runCmd(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %v: %s", cmd.Args, err, out.String())
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("%v: timed out", cmd.Args)
	}
	return cmd.Process.Pid
}

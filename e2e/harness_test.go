package e2e

// The helpers every end-to-end test shares: temporary directories, the
// agent binary and its commands, configs, reading and writing sink files.

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
)

// tmpDir makes a directory directly under the system's temporary directory,
// removed when the test ends. Unlike t.TempDir, whose parent only root may
// enter, other users can reach it; mode, when not 0, replaces its 0700.
func tmpDir(t testing.TB, prefix string, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if mode != 0 {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// outsideComponents are the programs of the components beside the kernel
// that -short leaves out: the Kafka broker, rsyslogd, the container
// runtimes.
var outsideComponents = map[string]bool{"java": true, "mvn": true, "rsyslogd": true, "docker": true, "dockerd": true,
	"podman": true, "containerd": true, "ctr": true, "runc": true}

// requireTool finds a program the test drives. In CI its absence fails the
// test (the CI script installs it); elsewhere the test is skipped. With
// -short, the tests of outside components are skipped.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() && outsideComponents[name] {
		t.Skipf("-short: leaves out the tests of outside components (%s)", name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; scripts/test installs it", name)
		}
		t.Skipf("%s is not installed (Debian package in scripts/test)", name)
	}
	return p
}

func agentPath() string {
	if *agentBin != "" {
		return *agentBin
	}
	return builtAgent
}

// runAgentCmd runs the agent binary to its end and returns exit code,
// stdout and stderr.
func runAgentCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(agentPath(), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%v did not end", args)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitRecords polls the sink until cond holds for its records.
func waitRecords(t *testing.T, sink string, timeout time.Duration, what string, cond func([]Record) bool) []Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var recs []Record
		if _, err := os.Stat(sink); err == nil {
			recs = ReadRecords(t, sink)
		}
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in the sink after %s:\n%s", what, timeout, dumpRecords(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sinkFiles lists a file sink's output, oldest rotated file first.
func sinkFiles(t *testing.T, path string) []string {
	t.Helper()
	var rotated []string
	for i := 1; ; i++ {
		found := ""
		for _, ext := range []string{"", ".gz"} {
			if _, err := os.Stat(fmt.Sprintf("%s.%d%s", path, i, ext)); err == nil {
				found = fmt.Sprintf("%s.%d%s", path, i, ext)
			}
		}
		if found == "" {
			break
		}
		rotated = append([]string{found}, rotated...)
	}
	return append(rotated, path)
}

// readLines reads every line of a file sink's output, in order.
func readLines(t *testing.T, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

func saveLines(t *testing.T, path string, ls []string) string {
	t.Helper()
	text := strings.Join(ls, "\n")
	if len(ls) > 0 {
		text += "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifyFiles(t *testing.T, files ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runAgentCmd(t, append([]string{"verify"}, files...)...)
	return code, stdout + stderr
}

// unchained is a json record without its chain member: the same record
// carries another chain in each sink's stream (their seals differ).
func unchained(raw string) string {
	if canonical, _, _, _, ok := chain.Split([]byte(raw)); ok {
		return string(canonical)
	}
	return raw
}

// isSeal tells a seal record of a sink's chain, in any format: not a file
// change, and in every sink's stream.
func isSeal(msg string) bool {
	return strings.Contains(msg, `"event":{"action":"seal"`) || strings.Contains(msg, `"activity_name":"Seal"`) ||
		strings.Contains(msg, "|seal|Audit chain sealed|")
}

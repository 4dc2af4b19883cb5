package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/sink/file"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, 2, "", "usage: fsaudit"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "usage: fsaudit", ""},
		{[]string{"version"}, 0, "fsaudit dev commit ", ""},
		{[]string{"run", "--config", "/nonexistent/fsaudit.toml"}, 1, "", "fsaudit: reading config: open /nonexistent/fsaudit.toml: no such file or directory\n"},
		{[]string{"run", "extra"}, 1, "", `fsaudit: run: unexpected argument "extra"`},
		{[]string{"check", "--config", "/nonexistent/fsaudit.toml"}, 1, "FAIL reading config", ""},
		{[]string{"replay", "--topic", "t"}, 1, "", "fsaudit: replay: --config and --topic are required"},
		{[]string{"replay", "--config", "c", "--topic", "t", "--since", "yesterday"}, 1, "", `--since "yesterday": want RFC 3339`},
		{[]string{"replay", "--config", "c", "--topic", "t", "--since", "2026-11-26T10:00:00Z", "--until", "2026-11-26T09:00:00Z"}, 1, "", "--until must come after --since"},
		{[]string{"replay", "--config", "c", "--topic", "t", "--follow", "--until", "2026-11-26T09:00:00Z"}, 1, "", "--follow has no end: drop --until"},
		{[]string{"replay", "--config", "c", "--topic", "t", "--offsets", "0:10,x"}, 1, "", `--offsets "0:10,x": want PARTITION:OFFSET`},
		{[]string{"replay", "--config", "c", "--topic", "t", "--offsets", "0:1", "--since", "2026-11-26T09:00:00Z"}, 1, "", "give --offsets or --since, not both"},
		{[]string{"replay", "--config", "/nonexistent/c.toml", "--topic", "t"}, 1, "", "fsaudit: reading config: open /nonexistent/c.toml"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.inStdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.inStdout)
			}
			if !strings.Contains(errb.String(), tc.inStderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.inStderr)
			}
		})
	}
}

func TestBuiltInConfig(t *testing.T) {
	if _, err := os.Stat("/etc/fsaudit/config.toml"); err == nil {
		t.Skip("/etc/fsaudit/config.toml exists and takes precedence")
	}
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != "built-in config.toml" || len(cfg.Sinks) != 1 || cfg.Sinks[0].Settings.(*file.Config).Path != "/var/log/fsaudit/audit.jsonl" {
		t.Errorf("built-in config: %+v", cfg)
	}
}

// TestCheckSinkDirectory: check fails a file sink whose directory others
// may write (sticky or not) or whose path is a symbolic link, with the
// sink's own words, and passes a 0755 directory of the agent's user.
func TestCheckSinkDirectory(t *testing.T) {
	base := t.TempDir()
	dirs := map[string]os.FileMode{"open": 0o777, "sticky": os.ModeSticky | 0o777, "good": 0o755}
	var conf strings.Builder
	fmt.Fprintf(&conf, "[spool]\ndir = %q\n", filepath.Join(base, "spool"))
	for name, mode := range dirs {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "[[sink]]\nname = %q\ntype = \"file\"\npath = %q\n", name, filepath.Join(dir, "audit.jsonl"))
	}
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(base, "good", "linked.jsonl")); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&conf, "[[sink]]\nname = \"linked\"\ntype = \"file\"\npath = %q\n", filepath.Join(base, "good", "linked.jsonl"))
	path := filepath.Join(base, "config.toml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdCheck([]string{"--config", path}, &out, &errb); code != 1 {
		t.Errorf("check: exit %d, want 1", code)
	}
	for _, want := range []string{
		fmt.Sprintf("  FAIL open: file %s/open/audit.jsonl: directory %s/open is writable by group or others (mode 0777): insecure permissions, make it 0755 and owned by root\n", base, base),
		fmt.Sprintf("  FAIL sticky: file %s/sticky/audit.jsonl: directory %s/sticky is writable by group or others (mode 1777): insecure permissions", base, base),
		fmt.Sprintf("  FAIL linked: file %s/good/linked.jsonl: is a symbolic link: a file sink never follows one\n", base),
		fmt.Sprintf("  ok   good: file %s/good/audit.jsonl is writable", base),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check lacks %q:\n%s", want, out.String())
		}
	}
}

// TestActionsAgree: the config accepts exactly the actions the kernel side
// can report, and audits them all by default.
func TestActionsAgree(t *testing.T) {
	if got := config.Defaults().Filter.Actions; !slices.Equal(got, bpf.Actions) {
		t.Errorf("config's actions %q, the kernel side's %q", got, bpf.Actions)
	}
}

// Failed sweeps are logged at once, then at most once a minute.
func TestSweepErrorLogger(t *testing.T) {
	var out bytes.Buffer
	f := sweepErrorLogger(newLogger("info", &out))
	for range 5 {
		f(os.ErrDeadlineExceeded)
	}
	if n := strings.Count(out.String(), "sweeping the coalescing map failed"); n != 1 {
		t.Errorf("%d lines for 5 failures in a row, want 1:\n%s", n, out.String())
	}
}

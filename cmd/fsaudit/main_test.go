package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
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
	if cfg.Source != "built-in config.toml" || len(cfg.Sinks) != 1 || cfg.Sinks[0].Path != "/var/log/fsaudit/audit.jsonl" {
		t.Errorf("built-in config: %+v", cfg)
	}
}

func TestFileWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.jsonl")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		ok   bool
	}{
		{file, true},
		{filepath.Join(dir, "new.jsonl"), true},
		{filepath.Join(dir, "a", "b", "new.jsonl"), true},
		{dir, false},
		{filepath.Join(notDir, "x.jsonl"), false},
	}
	for _, tc := range tests {
		err := fileWritable(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("fileWritable(%s) = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("fileWritable created a directory")
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

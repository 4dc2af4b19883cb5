package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/sink/kafka"
	"github.com/fsaudit/fsaudit/sink/syslog"
)

// keyCase is a key or credential file as a test makes it, and what
// private.Read says of it after "WHAT PATH" ("" when it takes it).
type keyCase struct {
	name     string
	make     func(t *testing.T, path string)
	want     string
	needRoot string // why the case needs root, when it does
}

// writeKey writes a key file with mode m (umask aside).
func writeKey(t *testing.T, path string, m os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, m); err != nil {
		t.Fatal(err)
	}
}

func keyCases() []keyCase {
	mode := func(m os.FileMode) func(*testing.T, string) {
		return func(t *testing.T, path string) { writeKey(t, path, m) }
	}
	return []keyCase{
		{name: "0600", make: mode(0o600)},
		{name: "0400", make: mode(0o400)},
		{name: "0640", make: mode(0o640), want: ": mode 0640 lets group or others read or change it; want 0600 or 0400"},
		{name: "0604", make: mode(0o604), want: ": mode 0604 lets group or others read or change it; want 0600 or 0400"},
		{name: "another user's", make: func(t *testing.T, path string) {
			writeKey(t, path, 0o600)
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, want: fmt.Sprintf(": owned by uid 65534, want root or the agent's user (uid %d)", os.Geteuid()),
			needRoot: "needs root to give the file to uid 65534"},
		{name: "link to a good key", make: func(t *testing.T, path string) {
			good := filepath.Join(t.TempDir(), "good.key")
			writeKey(t, good, 0o600)
			if err := os.Symlink(good, path); err != nil {
				t.Fatal(err)
			}
		}, want: ": is a symbolic link, which is not followed: name the file itself"},
		{name: "directory", make: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, want: ": is a directory, want a regular file"},
		{name: "fifo", make: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: ": is not a regular file (a device, pipe or socket)"},
		{name: "empty", make: func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: " is empty"},
	}
}

// TestReadPrivate: each key file that others could read, change or swap
// is refused with one line naming it and the cause.
func TestReadPrivate(t *testing.T) {
	for _, tc := range keyCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needRoot != "" && os.Geteuid() != 0 {
				t.Skip(tc.needRoot)
			}
			path := filepath.Join(t.TempDir(), "chain.key")
			tc.make(t, path)
			done := make(chan struct{})
			var data []byte
			var err error
			go func() { data, err = private.Read(path, "chain key_file"); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("reading %s hangs", path)
			}
			if tc.want == "" {
				if err != nil || string(data) != "secret\n" {
					t.Errorf("%q, %v; want the key", data, err)
				}
				return
			}
			if want := "chain key_file " + path + tc.want; err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
		})
	}
}

// keyKinds are the config keys that name a key or credential file, and
// how private.Read names each in errors.
var keyKinds = []struct{ key, what string }{
	{"key_file", "chain key_file"},
	{"seal_key_file", "chain seal_key_file"},
	{"tls_key_file", "sink pipeline: tls_key_file"},
	{"sasl_password_file", "sink pipeline: sasl_password_file"},
}

// keyConfig writes a config naming, for each key of files, its path:
// [chain] key_file or seal_key_file, or a Kafka sink's tls_key_file or
// sasl_password_file (a good file for the one of these two not given).
// The metrics address is taken: a run that got past the key files stops
// there, before it attaches anything.
func keyConfig(t *testing.T, files map[string]string, metrics string) string {
	t.Helper()
	dir := t.TempDir()
	file := func(key string) string {
		if p, ok := files[key]; ok {
			return p
		}
		p := filepath.Join(dir, key)
		writeKey(t, p, 0o600)
		return p
	}
	text := fmt.Sprintf("[agent]\nmetrics_listen = %q\n[spool]\ndir = %q\n", metrics, filepath.Join(dir, "spool"))
	text += "[chain]\n"
	for _, key := range []string{"key_file", "seal_key_file"} {
		if p, ok := files[key]; ok {
			text += fmt.Sprintf("%s = %q\n", key, p)
		}
	}
	text += fmt.Sprintf("[[sink]]\nname = \"local\"\ntype = \"file\"\npath = %q\n", filepath.Join(dir, "log", "audit.jsonl"))
	_, tlsKey := files["tls_key_file"]
	if _, sasl := files["sasl_password_file"]; tlsKey || sasl {
		text += fmt.Sprintf("[[sink]]\nname = \"pipeline\"\ntype = \"kafka\"\nbrokers = [\"127.0.0.1:9\"]\ntopic = \"t\"\ntls = true\n"+
			"tls_cert_file = %q\ntls_key_file = %q\nsasl_mechanism = \"scram-sha-512\"\nsasl_username = \"fsaudit\"\nsasl_password_file = %q\n",
			filepath.Join(dir, "client.pem"), file("tls_key_file"), file("sasl_password_file"))
	}
	conf := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// takenAddress is a TCP address something already listens on.
func takenAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// TestKeyFilesRefusedByRunAndCheck: run refuses to start on a key or
// password file that private.Read refuses, with its one line, and check
// fails with the same line (and does not dial the sink); a good file
// passes both.
func TestKeyFilesRefusedByRunAndCheck(t *testing.T) {
	metrics := takenAddress(t)
	for _, tc := range keyCases() {
		switch tc.name {
		case "0400", "directory", "fifo", "empty":
			continue // TestReadPrivate has them; each check here probes the kernel
		}
		t.Run(tc.name, func(t *testing.T) {
			if tc.needRoot != "" && os.Geteuid() != 0 {
				t.Skip(tc.needRoot)
			}
			all := map[string]string{}
			for _, k := range keyKinds {
				path := filepath.Join(t.TempDir(), "secret")
				tc.make(t, path)
				all[k.key] = path
				// run: the file on its own.
				conf := keyConfig(t, map[string]string{k.key: path}, metrics)
				cfg, err := config.Load(conf)
				if err != nil {
					t.Fatal(err)
				}
				want := k.what + " " + path + tc.want
				err = checkPrivateFiles(cfg)
				if tc.want == "" {
					if err != nil {
						t.Errorf("%s: run's check refuses a good file: %v", k.key, err)
					}
					continue
				}
				if err == nil || err.Error() != want {
					t.Errorf("%s: run's check: %v\nwant %s", k.key, err, want)
				}
				var errb bytes.Buffer
				if code := cmdRun([]string{"--config", conf}, &errb); code != 1 {
					t.Errorf("%s: run: exit %d, want 1", k.key, code)
				}
				lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
				if last := lines[len(lines)-1]; last != "fsaudit: "+want {
					t.Errorf("%s: run's last line %q\nwant %q", k.key, last, "fsaudit: "+want)
				}
			}
			// check: all three files at once, each reported.
			var out, errb bytes.Buffer
			code := cmdCheck([]string{"--config", keyConfig(t, all, metrics)}, &out, &errb)
			for _, k := range keyKinds {
				line := "  ok   " + k.what + " " + all[k.key] + ": "
				if tc.want != "" {
					line = "  FAIL " + k.what + " " + all[k.key] + tc.want + "\n"
				}
				if !strings.Contains(out.String(), line) {
					t.Errorf("check lacks the line %q:\n%s", line, out.String())
				}
			}
			if tc.want == "" {
				return
			}
			if code != 1 {
				t.Errorf("check: exit %d, want 1", code)
			}
			if strings.Contains(out.String(), "pipeline: kafka") || strings.Contains(out.String(), "records wait in the spool") {
				t.Errorf("check dialled a sink whose files it refused:\n%s", out.String())
			}
		})
	}
}

// TestSASLInClear: SASL without TLS is a warning, in check and at run's
// start, naming the sink; with TLS, or without SASL, it is none.
func TestSASLInClear(t *testing.T) {
	for _, tc := range []struct {
		settings config.SinkSettings
		want     string
	}{
		{&kafka.Config{SASLMechanism: "plain"}, "SASL plain without tls = true sends the password in clear text"},
		{&kafka.Config{SASLMechanism: "scram-sha-256"}, "SASL scram-sha-256 without tls = true lets anyone who records the exchange guess the password offline"},
		{&kafka.Config{SASLMechanism: "plain", TLS: true}, ""},
		{&kafka.Config{}, ""},
		{&syslog.Config{Address: "tcp://h:1"}, ""},
	} {
		got := strings.Join(sinkWarnings(&config.Sink{Name: "k", Settings: tc.settings}), "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.settings, got, tc.want)
		}
	}

	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeKey(t, pw, 0o600)
	conf := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("[agent]\nmetrics_listen = %q\n[spool]\ndir = %q\n[[sink]]\nname = \"pipeline\"\ntype = \"kafka\"\nbrokers = [\"127.0.0.1:9\"]\ntopic = \"t\"\n"+
		"sasl_mechanism = \"plain\"\nsasl_username = \"fsaudit\"\nsasl_password_file = %q\n", takenAddress(t), filepath.Join(dir, "spool"), pw)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmdRun([]string{"--config", conf}, &errb)
	warned := 0
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, `"sink":"pipeline"`) && strings.Contains(l, "sends the password in clear text") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("run logged %d warnings naming the sink, want 1:\n%s", warned, errb.String())
	}
	var out bytes.Buffer
	cmdCheck([]string{"--config", conf}, &out, &errb)
	if !strings.Contains(out.String(), "  WARN pipeline: SASL plain without tls = true sends the password in clear text") {
		t.Errorf("check does not warn:\n%s", out.String())
	}
}

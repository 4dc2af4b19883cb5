package matrix

import (
	"slices"
	"strings"
	"testing"
)

// console makes a VM's console: a check section where the modes in
// unsupported cannot attach the write point, then each mode's section.
func console(unsupported []string, sections ...string) string {
	var b strings.Builder
	b.WriteString("SeaBIOS (version 1.16)\x1b[2J=== fsaudit-matrix kernel 6.1.0-50-amd64\n=== check begin\nhook points (mode: loads and attaches?):\n  write\n")
	for _, m := range []string{"fentry", "kprobe", "tracepoint"} {
		if slices.Contains(unsupported, m) {
			b.WriteString("    " + m + "     no: kernel has no kprobes (CONFIG_KPROBES)\n")
		} else {
			b.WriteString("    " + m + "     yes\n")
		}
	}
	b.WriteString("  syscalls\n    tracepoint yes\n=== check end rc=0\n")
	for _, s := range sections {
		b.WriteString(s)
	}
	return b.String()
}

// section is one mode's tests: their lines, then the end line (rc < 0:
// the VM died before it).
func section(mode string, rc int, lines ...string) string {
	s := "=== mode " + mode + " begin\n" + strings.Join(lines, "\n") + "\n"
	if rc >= 0 {
		s += "=== mode " + mode + " end rc=" + string(rune('0'+rc)) + " seconds=42\n"
	}
	return s
}

var (
	passing = []string{"=== RUN   TestCaptureWorkload", "=== RUN   TestCaptureWorkload/compat",
		`    capture_test.go:258: summary: TestCaptureWorkload/compat "$W/a" write "" file`,
		`    capture_test.go:258: summary: TestCaptureWorkload/compat "$W/b" create "" open`,
		"    capture_test.go:300: coverage: write seen", "    --- PASS: TestCaptureWorkload/compat (1.00s)", "--- PASS: TestCaptureWorkload (2.00s)", "PASS"}
	failing = []string{"=== RUN   TestCoverage", "    coverage_test.go:99: rename: not seen", "--- FAIL: TestCoverage (3.00s)", "FAIL"}
	differ  = []string{`    capture_test.go:258: summary: TestCaptureWorkload/compat "$W/a" write "" file`, "--- PASS: TestCaptureWorkload (2.00s)"}
)

func runs(t *testing.T, text string, modes ...string) []Run {
	t.Helper()
	out, err := Parse(strings.NewReader(text), modes)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Each mode's verdict: passed, failed (with what failed, not the
// summaries), could not attach, or never ended.
func TestParse(t *testing.T) {
	got := runs(t, console([]string{"kprobe"}, section("fentry", 0, passing...), section("tracepoint", 1, failing...)),
		"kprobe", "fentry", "tracepoint", "never")
	want := []struct {
		verdict        string
		passed, failed int
		summaries      int
	}{{Unsupported, 0, 0, 0}, {Pass, 2, 0, 2}, {Fail, 0, 1, 0}, {Fail, 0, 0, 0}}
	for i, w := range want {
		r := got[i]
		if r.Verdict != w.verdict || r.Passed != w.passed || r.Failed != w.failed || len(r.Summary) != w.summaries {
			t.Errorf("%s: %s %d/%d, %d summaries; want %s %d/%d, %d", r.Mode, r.Verdict, r.Passed, r.Failed, len(r.Summary), w.verdict, w.passed, w.failed, w.summaries)
		}
	}
	if got[0].Reason != "kernel has no kprobes (CONFIG_KPROBES)" {
		t.Errorf("reason %q", got[0].Reason)
	}
	if f := got[2].Failures; len(f) != 2 || !strings.Contains(f[0], "rename: not seen") || !strings.HasPrefix(f[1], "--- FAIL: TestCoverage") {
		t.Errorf("failures %q", f)
	}
	if l := got[3].Line("6.1"); l != "6.1 never fail 0/0 cases (no result: VM died or timed out)" {
		t.Errorf("line %q", l)
	}
	if f := got[3].Failures; len(f) < 2 || f[0] != "(the console ends:)" || !strings.HasPrefix(f[len(f)-1], "=== mode tracepoint end") {
		t.Errorf("a mode that never ended shows %q, want the console's end", f)
	}
}

// A kernel's modes pass when their tests do and their records agree with
// its first passing mode's; a retry that passes replaces the first run
// and says so.
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		retry  string
		failed []bool
		ref    string
	}{
		{"all agree", console(nil, section("kprobe", 0, passing...), section("fentry", 0, passing...)), "", []bool{false, false}, "kprobe"},
		{"records differ", console(nil, section("kprobe", 0, passing...), section("fentry", 0, differ...)), "", []bool{false, true}, "kprobe"},
		{"one fails", console(nil, section("kprobe", 1, failing...), section("fentry", 0, passing...)), "", []bool{true, false}, "fentry"},
		{"retry passes", console(nil, section("kprobe", 1, failing...), section("fentry", 0, passing...)),
			console(nil, section("kprobe", 0, passing...)), []bool{false, false}, "kprobe"},
		{"VM died", console(nil, section("kprobe", -1, passing[:3]...)), "", []bool{true, true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := Kernel{Name: "6.1", Runs: runs(t, tc.text, "kprobe", "fentry")}
			if tc.retry != "" {
				k.Retry(runs(t, tc.retry, k.FailedModes()...))
			}
			res, ref := k.Judge()
			var failed []bool
			for _, r := range res {
				failed = append(failed, r.Failed)
			}
			if !slices.Equal(failed, tc.failed) || ref != tc.ref {
				t.Errorf("failed %v, reference %q; want %v, %q\n%+v", failed, ref, tc.failed, tc.ref, res)
			}
			if tc.retry != "" && (!strings.Contains(res[0].Line, "(second run; the first failed: 0/1 cases rc=1 seconds=42)") ||
				len(res[0].Detail) == 0 || !strings.Contains(res[0].Detail[0], "rename: not seen")) {
				t.Errorf("retried: %q, %q; want the first run's failures kept", res[0].Line, res[0].Detail)
			}
		})
	}
}

func TestCompatAndDiff(t *testing.T) {
	k := Kernel{Name: "5.10", Runs: runs(t, console(nil, section("kprobe", 0, passing...)), "kprobe")}
	got := k.Compat("kprobe")
	if len(got) != 2 || strings.HasPrefix(got[0], "TestCaptureWorkload") {
		t.Errorf("compat %q", got)
	}
	d := Diff([]string{"a", "b", "d"}, []string{"b", "c", "d", "e"}, 10)
	if want := []string{"< a", "> c", "> e"}; !slices.Equal(d, want) {
		t.Errorf("diff %q, want %q", d, want)
	}
}

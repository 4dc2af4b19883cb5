// Package matrix owns the verdicts of the kernel matrix: it reads the
// serial console of each virtual machine that ran the end-to-end tests
// under one kernel in several hook modes, and decides, for each kernel and
// mode, whether its tests passed, failed or could not run (the kernel
// cannot attach the mode), and whether the records agree across the modes
// of a kernel and, for the compat object, across kernels.
package matrix

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Verdicts of a mode.
const (
	Pass        = "pass"
	Fail        = "fail"
	Unsupported = "unsupported"
)

// Run is one mode's tests in one VM, as its console shows them.
type Run struct {
	Mode    string
	Verdict string
	Reason  string // Unsupported: why the kernel cannot attach the mode
	Passed  int    // --- PASS lines, subtests included
	Failed  int    // --- FAIL lines
	Seconds int
	Ended   bool     // the mode's end line is there (the VM did not die or time out)
	RC      int      // the test binary's exit status, when Ended
	Summary []string // the tests' "summary:" lines, sorted: the records, in short
	// Failures are the failed tests and their messages (not their
	// summaries), at most 60 lines, and, when the mode never ended, the
	// console's last lines.
	Failures []string
	// Retried: the failures of the first run, when this one ran again.
	Retried []string
}

// tailLines is how much of a console's end a mode that never ended shows.
const tailLines = 30

var (
	modeBegin = regexp.MustCompile(`^=== mode (\S+) begin`)
	modeEnd   = regexp.MustCompile(`^=== mode (\S+) end rc=(\d+) seconds=(\d+)`)
	testLine  = regexp.MustCompile(`_test\.go:\d+: `)
	quiet     = regexp.MustCompile(`_test\.go:\d+: (summary|coverage): `)
)

// Parse reads a VM's console and returns a Run for each of modes, in
// their order; a mode the console never began is a failure (the VM died
// before it).
func Parse(r io.Reader, modes []string) ([]Run, error) {
	runs := map[string]*Run{}
	for _, m := range modes {
		runs[m] = &Run{Mode: m}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var cur *Run
	inCheck, point := false, ""
	var tail []string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if tail = append(tail, line); len(tail) > tailLines {
			tail = tail[1:]
		}
		// A console may start a marker after the firmware's output.
		if i := strings.Index(line, "=== "); i > 0 && !strings.HasPrefix(strings.TrimSpace(line), "===") {
			line = line[i:]
		}
		switch {
		case strings.HasPrefix(line, "=== check begin"):
			inCheck = true
			continue
		case strings.HasPrefix(line, "=== check end"):
			inCheck = false
			continue
		}
		if inCheck {
			// "  write" then "    kprobe     no: reason"
			if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
				point = strings.TrimSpace(line)
				continue
			}
			f := strings.Fields(line)
			if point == "write" && len(f) >= 2 && f[1] == "no:" {
				if run := runs[f[0]]; run != nil {
					run.Reason = strings.TrimSpace(strings.SplitN(strings.TrimSpace(line), "no:", 2)[1])
				}
			}
			continue
		}
		if m := modeBegin.FindStringSubmatch(line); m != nil {
			cur = runs[m[1]]
			continue
		}
		if m := modeEnd.FindStringSubmatch(line); m != nil {
			if run := runs[m[1]]; run != nil {
				run.Ended = true
				run.RC, _ = strconv.Atoi(m[2])
				run.Seconds, _ = strconv.Atoi(m[3])
			}
			cur = nil
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "--- PASS"):
			cur.Passed++
		case strings.HasPrefix(t, "--- FAIL"):
			cur.Failed++
			cur.addFailure(t)
		}
		switch {
		case quiet.MatchString(line):
			if i := strings.Index(line, ": summary: "); i >= 0 {
				cur.Summary = append(cur.Summary, line[i+len(": summary: "):])
			}
		case testLine.MatchString(line):
			cur.addFailure(t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the console: %w", err)
	}
	out := make([]Run, 0, len(modes))
	for _, m := range modes {
		run := runs[m]
		slices.Sort(run.Summary)
		switch {
		case run.Reason != "":
			run.Verdict = Unsupported
		case run.Ended && run.RC == 0:
			run.Verdict = Pass
			run.Failures = nil // messages of tests that passed in the end
		default:
			run.Verdict = Fail
			if !run.Ended {
				run.Failures = append(run.Failures, "(the console ends:)")
				run.Failures = append(run.Failures, tail...)
			}
		}
		out = append(out, *run)
	}
	return out, nil
}

func (r *Run) addFailure(line string) {
	if len(r.Failures) < 60 {
		r.Failures = append(r.Failures, line)
	}
}

// Line is the run's line in the matrix's table.
func (r Run) Line(kernel string) string {
	cases := fmt.Sprintf("%d/%d cases", r.Passed, r.Passed+r.Failed)
	switch r.Verdict {
	case Unsupported:
		return fmt.Sprintf("%s %s unsupported %s", kernel, r.Mode, r.Reason)
	case Pass:
		return fmt.Sprintf("%s %s pass %s, %ds", kernel, r.Mode, cases, r.Seconds)
	}
	end := "(no result: VM died or timed out)"
	if r.Ended {
		end = fmt.Sprintf("rc=%d seconds=%d", r.RC, r.Seconds)
	}
	return fmt.Sprintf("%s %s fail %s %s", kernel, r.Mode, cases, end)
}

// Kernel is one kernel's runs, a retry's replacing the first of a mode.
type Kernel struct {
	Name  string
	Runs  []Run
	Notes map[string]string // mode: how its first run failed, when a retry passed
}

// Retry replaces the runs of the modes a second VM ran.
func (k *Kernel) Retry(runs []Run) {
	for _, r := range runs {
		for i := range k.Runs {
			if k.Runs[i].Mode != r.Mode {
				continue
			}
			if r.Verdict == Pass {
				if k.Notes == nil {
					k.Notes = map[string]string{}
				}
				k.Notes[r.Mode] = strings.TrimPrefix(k.Runs[i].Line(k.Name), k.Name+" "+r.Mode+" fail ")
			}
			r.Retried = k.Runs[i].Failures
			k.Runs[i] = r
		}
	}
}

// FailedModes are the modes whose runs failed.
func (k *Kernel) FailedModes() []string {
	var out []string
	for _, r := range k.Runs {
		if r.Verdict == Fail {
			out = append(out, r.Mode)
		}
	}
	return out
}

// Result is a line of the table: its verdict, and what else to show.
type Result struct {
	Line   string
	Failed bool
	Detail []string
}

// Judge decides each mode of k: a passing mode whose records differ from
// the kernel's first passing mode (its reference) fails. It returns the
// reference mode ("" when none passed).
func (k *Kernel) Judge() ([]Result, string) {
	var out []Result
	var ref *Run
	for _, r := range k.Runs {
		res := Result{Line: r.Line(k.Name), Failed: r.Verdict == Fail}
		switch {
		case r.Verdict == Fail:
			res.Detail = r.Failures
		case r.Verdict == Pass && ref != nil && !slices.Equal(ref.Summary, r.Summary):
			res = Result{Line: fmt.Sprintf("%s %s fail records differ from %s mode (apart from hook)", k.Name, r.Mode, ref.Mode), Failed: true,
				Detail: Diff(ref.Summary, r.Summary, 20)}
		case r.Verdict == Pass:
			res.Line += fmt.Sprintf(", %d files agree across modes", len(r.Summary))
			if note := k.Notes[r.Mode]; note != "" {
				res.Line += fmt.Sprintf(" (second run; the first failed: %s)", note)
				res.Detail = r.Retried
			}
			if ref == nil {
				ref = &k.Runs[slices.IndexFunc(k.Runs, func(x Run) bool { return x.Mode == r.Mode })]
			}
		}
		out = append(out, res)
	}
	if ref == nil {
		return out, ""
	}
	return out, ref.Mode
}

// Compat is the part of a kernel's reference summary that the compat
// object made (TestCaptureWorkload/compat), without the test's name: the
// same on every kernel.
func (k *Kernel) Compat(ref string) []string {
	var out []string
	for _, r := range k.Runs {
		if r.Mode != ref {
			continue
		}
		for _, s := range r.Summary {
			if rest, ok := strings.CutPrefix(s, "TestCaptureWorkload/compat "); ok {
				out = append(out, rest)
			}
		}
	}
	return out
}

// Diff lists, at most max lines, what only a has ("< ") and only b has
// ("> "), of two sorted lists.
func Diff(a, b []string, max int) []string {
	var out []string
	i, j := 0, 0
	for (i < len(a) || j < len(b)) && len(out) < max {
		switch {
		case j >= len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, "< "+a[i])
			i++
		case i >= len(a) || b[j] < a[i]:
			out = append(out, "> "+b[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}

// Command judge gives the kernel matrix its verdicts (package matrix)
// from the consoles of its virtual machines.
//
//	judge failed -modes kprobe,fentry,tracepoint CONSOLE
//	    prints the modes whose tests failed, one per line
//	judge verdict -modes kprobe,fentry,tracepoint KERNEL=CONSOLE[,RETRY] ...
//	    prints a line per kernel and mode, and whether the records agree
//	    across modes and (compat object) kernels; exits 1 when any failed
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/fsaudit/fsaudit/internal/matrix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: judge failed|verdict -modes M,M... ARGS")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	modes := fs.String("modes", "kprobe,fentry,tracepoint", "the modes the VMs ran, in order")
	fs.Parse(os.Args[2:])
	list := strings.Split(*modes, ",")
	var code int
	var err error
	switch os.Args[1] {
	case "failed":
		code, err = failed(os.Stdout, list, fs.Args())
	case "verdict":
		code, err = verdict(os.Stdout, list, fs.Args())
	default:
		err = fmt.Errorf("unknown command %q: want failed or verdict", os.Args[1])
		code = 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "judge:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func parse(path string, modes []string) ([]matrix.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return matrix.Parse(f, modes)
}

func failed(w io.Writer, modes, args []string) (int, error) {
	if len(args) != 1 {
		return 2, fmt.Errorf("failed takes one console log")
	}
	runs, err := parse(args[0], modes)
	if err != nil {
		return 2, err
	}
	k := matrix.Kernel{Runs: runs}
	for _, m := range k.FailedModes() {
		fmt.Fprintln(w, m)
	}
	return 0, nil
}

func verdict(w io.Writer, modes, args []string) (int, error) {
	var results []matrix.Result
	type compat struct {
		kernel string
		lines  []string
	}
	var compats []compat
	for _, a := range args {
		name, logs, ok := strings.Cut(a, "=")
		if !ok {
			return 2, fmt.Errorf("%q: want KERNEL=CONSOLE[,RETRY]", a)
		}
		paths := strings.Split(logs, ",")
		runs, err := parse(paths[0], modes)
		if err != nil {
			// A VM whose console is not there ran nothing.
			results = append(results, matrix.Result{Line: fmt.Sprintf("%s all fail (no console: %v)", name, err), Failed: true})
			continue
		}
		k := matrix.Kernel{Name: name, Runs: runs}
		if len(paths) > 1 {
			retry, err := parse(paths[1], k.FailedModes())
			if err != nil {
				// The first run's failures stand.
				results = append(results, matrix.Result{Line: fmt.Sprintf("%s all fail (no retry console: %v)", name, err), Failed: true})
			} else {
				k.Retry(retry)
			}
		}
		res, ref := k.Judge()
		results = append(results, res...)
		if ref != "" {
			compats = append(compats, compat{name, k.Compat(ref)})
		}
	}
	// The compat object runs on every kernel: its records agree too.
	for _, c := range compats[min(1, len(compats)):] {
		first := compats[0]
		if !slices.Equal(first.lines, c.lines) {
			results = append(results, matrix.Result{Line: fmt.Sprintf("%s all fail records of the compat object differ from kernel %s", c.kernel, first.kernel),
				Failed: true, Detail: matrix.Diff(first.lines, c.lines, 20)})
			continue
		}
		fmt.Fprintf(w, "== compat object: %d files, records of %s agree with %s\n", len(c.lines), c.kernel, first.kernel)
	}
	fmt.Fprintln(w)
	var npass, nfail, nskip int
	for _, r := range results {
		fmt.Fprintln(w, r.Line)
		for _, d := range r.Detail {
			fmt.Fprintln(w, "   "+d)
		}
		switch f := strings.Fields(r.Line); {
		case r.Failed:
			nfail++
		case len(f) > 2 && f[2] == matrix.Unsupported:
			nskip++
		default:
			npass++
		}
	}
	fmt.Fprintf(w, "matrix: %d passed, %d failed, %d skipped\n", npass, nfail, nskip)
	if nfail > 0 {
		return 1, nil
	}
	return 0, nil
}

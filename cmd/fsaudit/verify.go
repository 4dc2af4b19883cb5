package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/internal/private"
)

// cmdVerify checks the hash chain of file-sink output: the files given in
// the order they were written (oldest rotated file first), gzip or not;
// with a verification key, every seal too.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key-file", "", "HMAC key of the chain ([chain] key_file), if it has one")
	vkey := fs.String("verification-key", "", "the verification key fsaudit keygen printed: check every seal (--verification-key-file keeps it off the command line)")
	vkeyFile := fs.String("verification-key-file", "", "a file holding the verification key")
	sinkName := fs.String("sink", "", "with --seals: the sink whose copies to take (default: the one the files' seals name)")
	replayedOK := fs.Bool("replayed", false, "the files are fsaudit replay's output: accept records marked fsaudit.replay")
	whole := fs.Bool("whole", false, "with the verification key: the files are the sink's whole history since the key was made (the first seal must be of epoch 0)")
	maxAge := fs.Duration("max-age", 0, "with the verification key: fail when the last seal is older than this (an agent that runs seals all the time)")
	sealsFile := fs.String("seals", "", "copies of the sink's seal records kept elsewhere (its seal_anchor's stream), one record per line: check the files against them")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "fsaudit: verify: name the files, oldest first (e.g. audit.jsonl.2.gz audit.jsonl.1.gz audit.jsonl)")
		return 1
	}
	var key []byte
	if *keyFile != "" {
		var err error
		if key, err = private.Read(*keyFile, "--key-file"); err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: %s\n", oneLine(err))
			return 1
		}
	}
	var vk *chain.VerificationKey
	if *vkeyFile != "" {
		if *vkey != "" {
			fmt.Fprintln(stderr, "fsaudit: verify: give --verification-key or --verification-key-file, not both")
			return 1
		}
		b, err := private.Read(*vkeyFile, "--verification-key-file")
		if err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: %s\n", oneLine(err))
			return 1
		}
		*vkey = string(b)
	}
	if *vkey != "" {
		var err error
		if vk, err = chain.ParseVerificationKey(*vkey); err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: --verification-key: %s\n", oneLine(err))
			return 1
		}
	}
	if vk == nil && (*whole || *maxAge > 0) {
		fmt.Fprintln(stderr, "fsaudit: verify: --whole and --max-age check seals: give the verification key")
		return 1
	}
	v := chain.NewVerifier(key, vk)
	v.Whole, v.MaxAge, v.AnchorSink, v.AllowReplayed = *whole, *maxAge, *sinkName, *replayedOK
	for _, path := range fs.Args() {
		if err := verifyFile(v, path); err != nil {
			fmt.Fprintf(stdout, "%s\n", oneLine(err))
			return 1
		}
	}
	end, err := v.End(time.Now())
	if err != nil {
		fmt.Fprintf(stdout, "%s\n", oneLine(err))
		return 1
	}
	anchored := -1
	if *sealsFile != "" {
		anchors, skipped, err := readAnchors(*sealsFile)
		if err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: --seals: %s\n", oneLine(err))
			return 1
		}
		if skipped > 0 {
			fmt.Fprintf(stdout, "note: %d lines of %s are no seal records that read\n", skipped, *sealsFile)
		}
		if anchored, err = v.CheckAnchors(anchors); err != nil {
			fmt.Fprintf(stdout, "%s\n", oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(stdout, "verified %d records in %d files; the chain ends at record %d (%s)\n",
		v.Lines, fs.NArg(), v.Last().Seq, v.Last().Hash)
	fmt.Fprintf(stdout, "head: %s\n", v.Head)
	if s := v.Sink(); s != "" {
		fmt.Fprintf(stdout, "sink: %q (as its seals name it)\n", s)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if v.Resent > 0 {
		fmt.Fprintf(stdout, "%d records sent again after a crash, each the same as before (delivery is at least once):\n", v.Resent)
		for _, d := range v.Duplicates {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
	}
	if v.Replayed > 0 {
		fmt.Fprintf(stdout, "note: %d records carry fsaudit.replay (sent again by fsaudit replay)\n", v.Replayed)
	}
	if anchored >= 0 {
		fmt.Fprintf(stdout, "anchored seals: %d of this sink's chain in %s, each matching the files or before them\n", anchored, *sealsFile)
	}
	if vk != nil {
		fmt.Fprintf(stdout, "seals: %d verified; %s\n", v.Seals, end)
	} else {
		fmt.Fprintln(stdout, "seals: not checked (give --verification-key)")
	}
	return 0
}

func verifyFile(v *chain.Verifier, path string) error {
	return eachLine(path, v.Line)
}

// eachLine gives fn every line of a file (gzip when its name ends in
// .gz), with where it is (PATH:LINE), and returns fn's first error.
func eachLine(path string, fn func(where string, line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, errLongLine) {
			return fmt.Errorf("%s:%d: %w: %w", path, n, chain.ErrBroken, err)
		}
		if len(line) > 0 {
			if ferr := fn(path+":"+strconv.Itoa(n), line); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
}

// maxLine bounds a line verify reads: a record is far smaller; a longer
// line (or a stream with no newline) is not read into memory whole.
const maxLine = 64 << 20

var errLongLine = errors.New("a line longer than 64 MiB: not an fsaudit record")

// readLine reads up to and with the next newline (or the end), refusing
// lines longer than maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line)+len(part) > maxLine {
			return nil, errLongLine
		}
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// readAnchors reads the seal records of an anchor's stream (gzip or not):
// every line that is a seal record, and how many other lines there were.
func readAnchors(path string) ([]*chain.Seal, int, error) {
	var out []*chain.Seal
	skipped := 0
	err := eachLine(path, func(_ string, line []byte) error {
		if s, perr := chain.ParseAnchored(line); perr != nil || s == nil {
			skipped++
		} else {
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, skipped, nil
}

// cmdKeygen makes a sealing key and prints its verification key, once.
func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("seal-key-file", "", "where to write the sealing key ([chain] seal_key_file); it must not exist")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "fsaudit: keygen: usage: fsaudit keygen --seal-key-file PATH")
		return 1
	}
	vk, err := chain.CreateSealKey(*path)
	if err != nil {
		fmt.Fprintf(stderr, "fsaudit: keygen: %s\n", oneLine(err))
		return 1
	}
	fmt.Fprintln(stdout, vk)
	fmt.Fprintf(stderr, "fsaudit: keygen: sealing key written to %s (mode 0600). The line above is the verification key: keep it off this host; it is not shown again.\n", *path)
	return 0
}

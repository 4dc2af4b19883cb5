package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fsaudit/fsaudit/chain"
)

// cmdVerify checks the hash chain of file-sink output: the files given in
// the order they were written (oldest rotated file first), gzip or not.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key-file", "", "HMAC key of the chain ([chain] key_file), if it has one")
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
		if key, err = readPrivate(*keyFile, "--key-file"); err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: %s\n", oneLine(err))
			return 1
		}
	}
	v := chain.NewVerifier(key)
	for _, path := range fs.Args() {
		if err := verifyFile(v, path); err != nil {
			fmt.Fprintf(stdout, "%s\n", oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(stdout, "verified %d records in %d files (%d sent again after a crash, each the same as before); the chain ends at %s\n",
		v.Lines, fs.NArg(), v.Duplicates, v.Last())
	return 0
}

func verifyFile(v *chain.Verifier, path string) error {
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
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if verr := v.Line(line); verr != nil {
				return fmt.Errorf("%s:%d: %w", path, n, verr)
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

package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fsaudit/fsaudit/chain"
)

// cmdVerify checks the hash chain of file-sink output: the files given in
// the order they were written (oldest rotated file first), gzip or not;
// with a verification key, every seal too.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key-file", "", "HMAC key of the chain ([chain] key_file), if it has one")
	vkey := fs.String("verification-key", "", "the verification key fsaudit keygen printed: check every seal")
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
	var vk *chain.VerificationKey
	if *vkey != "" {
		var err error
		if vk, err = chain.ParseVerificationKey(*vkey); err != nil {
			fmt.Fprintf(stderr, "fsaudit: verify: --verification-key: %s\n", oneLine(err))
			return 1
		}
	}
	v := chain.NewVerifier(key, vk)
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
	fmt.Fprintf(stdout, "verified %d records in %d files; the chain ends at record %d (%s)\n",
		v.Lines, fs.NArg(), v.Last().Seq, v.Last().Hash)
	fmt.Fprintf(stdout, "head: %s\n", v.Head)
	for _, n := range v.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if v.Resent > 0 {
		fmt.Fprintf(stdout, "%d records sent again after a crash, each the same as before (delivery is at least once):\n", v.Resent)
		for _, d := range v.Duplicates {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
	}
	if vk != nil {
		fmt.Fprintf(stdout, "seals: %d verified; %s\n", v.Seals, end)
	} else {
		fmt.Fprintln(stdout, "seals: not checked (give --verification-key)")
	}
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
			if verr := v.Line(path+":"+strconv.Itoa(n), line); verr != nil {
				return verr
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

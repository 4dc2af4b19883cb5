// Command loadgen writes to many files at a steady rate, for bench/capacity:
// 64-byte writes, round robin over -files open files in -dir, paced every
// millisecond to -rate writes a second for -duration. It prints the writes
// it made and the rate it kept.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory for the files (created)")
	files := flag.Int("files", 4096, "files written round robin")
	rate := flag.Int("rate", 100000, "writes per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to write")
	flag.Parse()
	if err := run(*dir, *files, *rate, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(dir string, n, rate int, duration time.Duration) error {
	if dir == "" || n <= 0 || rate <= 0 || duration <= 0 {
		return fmt.Errorf("need -dir, and -files, -rate, -duration above zero")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fs := make([]*os.File, n)
	for i := range fs {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%05d", i)))
		if err != nil {
			return err
		}
		defer f.Close()
		fs[i] = f
	}
	buf := make([]byte, 64)
	start := time.Now()
	made, next := 0, 0
	for {
		elapsed := time.Since(start)
		if elapsed >= duration {
			break
		}
		due := int(float64(rate) * elapsed.Seconds())
		for ; made < due; made++ {
			if _, err := fs[next].WriteAt(buf, 0); err != nil {
				return err
			}
			next = (next + 1) % n
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	fmt.Printf("writes %d seconds %.3f rate %.0f\n", made, took.Seconds(), float64(made)/took.Seconds())
	return nil
}

// Command fsaudit audits file modifications with eBPF and ships one
// structured record per event to files, syslog or Kafka.
//
// This package owns the command line: flags, subcommands, signals and the
// wiring of capture, enrichment, pipeline and sinks.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/fsaudit/fsaudit"
	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: fsaudit <command> [flags]

commands:
  run     [--config PATH]   capture file writes and ship records until SIGINT/SIGTERM
  check   [--config PATH]   validate the config, probe the kernel, open each sink
  replay  --config PATH --topic T [--brokers H:P,...] [--since TIME] [--until TIME]
          [--sink NAME ...] [--follow] [--group ID] [--offsets P:O,...] [filters]
          [--verify-chain [--chain-key-file F]]
                            send records from a Kafka topic to the config's sinks
  verify  [--key-file F] [--verification-key KEY | --verification-key-file F] [--whole]
          [--max-age D] [--seals FILE [--sink NAME]] [--replayed] PATH...
                            check the hash chain and seals of file-sink output, oldest file first
  keygen  --seal-key-file PATH   make the sealing key; print the verification key once
  version                   print version, commit and BPF object hash
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "replay":
		return cmdReplay(args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "fsaudit %s commit %s bpf %s\n", version, commit(), bpf.ObjectHash())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fsaudit: unknown command %q\n%s", args[0], usage)
	return 2
}

func commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// configFlag parses --config for run and check, and the flags that more
// defines (nil: none).
func configFlag(name string, args []string, stderr io.Writer, more func(*flag.FlagSet)) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: "+config.DefaultPath+" if it exists, else the built-in default)")
	if more != nil {
		more(fs)
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	return *path, nil
}

// loadConfig reads the named file, else /etc/fsaudit/config.toml, else the
// built-in default.
func loadConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	if _, err := os.Stat(config.DefaultPath); err == nil {
		return config.Load(config.DefaultPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return config.Parse("built-in config.toml", fsaudit.DefaultConfig)
}

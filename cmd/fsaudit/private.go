package main

import (
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/sink"
)

// privateFiles lists every key and credential file cfg names: [chain]
// key_file and seal_key_file, each sink's tls_key_file and
// sasl_password_file. Certificates and CA files are public and not listed.
func privateFiles(cfg *config.Config) []private.File {
	out := chainPrivateFiles(cfg.Chain)
	for i := range cfg.Sinks {
		out = append(out, sinkPrivateFiles(&cfg.Sinks[i])...)
	}
	return out
}

// chainPrivateFiles lists the [chain] key files.
func chainPrivateFiles(c config.Chain) []private.File {
	var out []private.File
	if c.KeyFile != "" {
		out = append(out, private.File{What: "chain key_file", Path: c.KeyFile})
	}
	if c.SealKeyFile != "" {
		out = append(out, private.File{What: "chain seal_key_file", Path: c.SealKeyFile})
	}
	return out
}

// sinkPrivateFiles lists one sink's key and credential files
// (sink.Credentialed).
func sinkPrivateFiles(sc *config.Sink) []private.File {
	if c, ok := sc.Settings.(sink.Credentialed); ok {
		return c.PrivateFiles(sc)
	}
	return nil
}

// checkPrivateFiles checks every file of privateFiles as private.Read
// would, and returns the first refusal: run calls it before it opens anything,
// check reports each file the same way.
func checkPrivateFiles(cfg *config.Config) error {
	for _, p := range privateFiles(cfg) {
		if err := private.Check(p.Path, p.What); err != nil {
			return err
		}
	}
	return nil
}

// sinkWarnings are what a sink's settings weaken (sink.Warner), a line
// each, said at every start and by check.
func sinkWarnings(sc *config.Sink) []string {
	if w, ok := sc.Settings.(sink.Warner); ok {
		return w.Warnings(sc)
	}
	return nil
}

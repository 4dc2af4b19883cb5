package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/fsaudit/fsaudit/config"
)

// readPrivate reads a key or credential file, opened by openPrivate:
// what is checked is what is read. It refuses an empty file too.
func readPrivate(path, what string) ([]byte, error) {
	f, err := openPrivate(path, what, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s %s is empty", what, path)
	}
	return data, nil
}

// checkPrivate is readPrivate without reading: the same checks, and the
// secret stays on disk.
func checkPrivate(path, what string) error {
	f, err := openPrivate(path, what, os.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return fmt.Errorf("%s %s is empty", what, path)
	}
	return nil
}

// openPrivate opens a key or credential file with flag (os.O_RDONLY or
// os.O_RDWR) and refuses it, closed again, unless it is a regular file (a
// symbolic link at path is not followed) of root or the agent's user that
// group and others may neither read nor change: the checks are made on
// the file opened (privateMode), not on the name. what names the file in
// errors ("chain key_file", "sink k: tls_key_file"), each one line.
func openPrivate(path, what string, flag int) (*os.File, error) {
	// O_NONBLOCK: a FIFO at path must not hold the start up; it is
	// refused below like any other file that is not a regular one.
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
				return nil, fmt.Errorf("%s %s: is a symbolic link, which is not followed: name the file itself", what, path)
			}
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = privateMode(st)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return f, nil
}

// privateMode refuses a key file's stat unless it is a regular file of
// root or the agent's user that only its owner may read or change.
func privateMode(st os.FileInfo) error {
	switch t := st.Mode().Type(); {
	case t&os.ModeDir != 0:
		return errors.New("is a directory, want a regular file")
	case t != 0:
		return errors.New("is not a regular file (a device, pipe or socket)")
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, want root or the agent's user (uid %d)", sys.Uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("mode %04o lets group or others read or change it; want 0600 or 0400", st.Mode().Perm())
	}
	return nil
}

// privateFile is a key or credential file the config names; what names
// it in errors as readPrivate takes it.
type privateFile struct{ what, path string }

// privateFiles lists every key and credential file cfg names: [chain]
// key_file and seal_key_file, each sink's tls_key_file and
// sasl_password_file. Certificates and CA files are public and not listed.
func privateFiles(cfg *config.Config) []privateFile {
	out := chainPrivateFiles(cfg.Chain)
	for _, sc := range cfg.Sinks {
		out = append(out, sinkPrivateFiles(sc)...)
	}
	return out
}

// chainPrivateFiles lists the [chain] key files.
func chainPrivateFiles(c config.Chain) []privateFile {
	var out []privateFile
	if c.KeyFile != "" {
		out = append(out, privateFile{"chain key_file", c.KeyFile})
	}
	if c.SealKeyFile != "" {
		out = append(out, privateFile{"chain seal_key_file", c.SealKeyFile})
	}
	return out
}

// sinkPrivateFiles lists one sink's key and credential files.
func sinkPrivateFiles(sc config.Sink) []privateFile {
	var out []privateFile
	if sc.TLSKeyFile != "" {
		out = append(out, privateFile{sinkFile(sc, "tls_key_file"), sc.TLSKeyFile})
	}
	if sc.SASLPasswordFile != "" {
		out = append(out, privateFile{sinkFile(sc, "sasl_password_file"), sc.SASLPasswordFile})
	}
	return out
}

// sinkFile names a sink's file key in errors: "sink k: tls_key_file".
func sinkFile(sc config.Sink, key string) string {
	return fmt.Sprintf("sink %s: %s", sc.Name, key)
}

// checkPrivateFiles reads every file of privateFiles through readPrivate
// and returns the first refusal: run calls it before it opens anything,
// check reports each file the same way.
func checkPrivateFiles(cfg *config.Config) error {
	for _, p := range privateFiles(cfg) {
		if err := checkPrivate(p.path, p.what); err != nil {
			return err
		}
	}
	return nil
}

// saslInClear is the warning for a Kafka sink that authenticates with SASL
// without TLS, "" for any other sink.
func saslInClear(sc config.Sink) string {
	if sc.Type != "kafka" || sc.SASLMechanism == "" || sc.TLS {
		return ""
	}
	if sc.SASLMechanism == "plain" {
		return "SASL plain without tls = true sends the password in clear text: set tls = true"
	}
	return fmt.Sprintf("SASL %s without tls = true lets anyone who records the exchange guess the password offline, and records travel in clear text: set tls = true", sc.SASLMechanism)
}

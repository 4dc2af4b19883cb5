package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/sink"
	"golang.org/x/sys/unix"
)

// Config holds a file sink's own [[sink]] keys.
type Config struct {
	Path string `toml:"path"`
	// Rotation is who rotates the file: "agent" (by max_size_mb and
	// max_age, keeping max_backups) or "external" (logrotate moves it and
	// sends SIGHUP; the agent never rotates it).
	Rotation   string          `toml:"rotation"`
	MaxSizeMB  int             `toml:"max_size_mb"`
	MaxBackups int             `toml:"max_backups"`
	MaxAge     config.Duration `toml:"max_age"`
	Compress   bool            `toml:"compress"`
	Fsync      string          `toml:"fsync"`
}

// New returns a file sink's keys, none set.
func New() sink.Type { return new(Config) }

// agentRotationKeys are the keys of rotation = "agent".
var agentRotationKeys = []string{"max_size_mb", "max_backups", "max_age", "compress"}

// Defaults implements config.SinkSettings.
func (c *Config) Defaults(_ *config.Sink, set []string) {
	if c.Rotation == "" {
		c.Rotation = "agent"
	}
	if c.MaxSizeMB == 0 {
		c.MaxSizeMB = 100
	}
	if !slices.Contains(set, "max_backups") {
		// max_backups = 0 keeps no rotated file.
		c.MaxBackups = 10
	}
	if c.Fsync == "" {
		c.Fsync = "1s"
	}
}

// Validate implements config.SinkSettings.
func (c *Config) Validate(_ *config.Sink, set []string, at func(msg, key string) error) error {
	if c.Path == "" || !filepath.IsAbs(c.Path) {
		return at("a file sink needs an absolute path", "path")
	}
	if c.Rotation != "agent" && c.Rotation != "external" {
		return at(fmt.Sprintf("unknown rotation %q: want agent or external", c.Rotation), "rotation")
	}
	if c.Rotation == "external" {
		for _, k := range set {
			if slices.Contains(agentRotationKeys, k) {
				return at("rotation = \"external\" leaves rotating the file to logrotate: remove this key", k)
			}
		}
	}
	if c.MaxSizeMB < 1 {
		return at("must be at least 1", "max_size_mb")
	}
	if c.MaxBackups < 0 {
		return at("must not be negative", "max_backups")
	}
	if _, err := ParseFsync(c.Fsync); err != nil {
		return at(err.Error(), "fsync")
	}
	return nil
}

// Open implements sink.Type.
func (c *Config) Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	fsync, err := ParseFsync(c.Fsync)
	if err != nil {
		return nil, sink.Named(s, err)
	}
	o := Options{
		Name: s.Name, Path: c.Path, Format: env.Format,
		MaxBytes: int64(c.MaxSizeMB) << 20, MaxAge: c.MaxAge.Duration, MaxBackups: c.MaxBackups,
		Compress: c.Compress, Fsync: fsync, Marked: env.Chained,
	}
	if c.Rotation == "external" {
		// logrotate moves the file and sends SIGHUP, which reopens it.
		o.MaxBytes, o.MaxAge, o.MaxBackups, o.Compress = 0, 0, 0, false
	}
	return OpenSink(o)
}

// Check implements sink.Type: the directory is one the sink takes, and
// the file could be opened for appending; nothing is created.
func (c *Config) Check(_ context.Context, s *config.Sink, _ sink.Env, rep sink.Reporter) {
	if err := CheckFileDir(filepath.Dir(c.Path)); err != nil {
		rep.Fail("file %s: %s", c.Path, err)
		return
	}
	if err := Writable(c.Path); err != nil {
		rep.Fail("file %s: %s", c.Path, err)
		return
	}
	rep.OK("file %s is writable (%s, rotation %s)", c.Path, s.Format, c.Rotation)
}

// ParseFsync reads a file sink's fsync policy: "batch" (after every
// batch), "never", or an interval such as "1s" (at most that long after a
// write). It returns the interval; 0 means every batch, -1 never.
func ParseFsync(v string) (time.Duration, error) {
	switch v {
	case "batch":
		return 0, nil
	case "never":
		return -1, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("fsync %q: want batch, never, or an interval such as \"1s\"", v)
	}
	return d, nil
}

// Writable tells whether the sink could open path for appending,
// creating it and its directories, without creating anything now. Like
// the sink, it does not follow a symbolic link at path.
func Writable(path string) error {
	st, err := os.Lstat(path)
	if err == nil {
		if st.Mode()&os.ModeSymlink != 0 {
			return errors.New("is a symbolic link: a file sink never follows one")
		}
		if !st.Mode().IsRegular() {
			return errors.New("not a regular file")
		}
		return unix.Access(path, unix.W_OK)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("cannot create files in %s: %w", dir, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir || strings.TrimSpace(parent) == "" {
			return fmt.Errorf("no existing directory above %s", path)
		}
		dir = parent
	}
}

package sink

import (
	"context"
	"fmt"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/record"
)

// Type is a type of sink as its folder gives it to sink/registry: the
// struct of the keys it adds to a [[sink]] table (config.SinkSettings,
// with their defaults and checks), which opens the sink and checks its
// destination.
type Type interface {
	config.SinkSettings
	// Open builds the sink of the table s, whose own keys the Type holds.
	// It may connect later, on the first Write.
	Open(s *config.Sink, env Env) (Sink, error)
	// Check tells `fsaudit check` whether the sink could take records
	// now, without writing one, and reports it to rep: Fail for what
	// `run` would refuse, Warn for a destination that does not answer
	// now (run starts, and records wait in the spool).
	Check(ctx context.Context, s *config.Sink, env Env, rep Reporter)
}

// Env is what a sink takes from outside its [[sink]] table.
type Env struct {
	Format   record.Format // the table's format, built
	HostName string        // [agent] host_name, or the kernel's
	// Chained: the sink's records are hash-chained, so a sink that
	// starts files starts each at a seal record (see MarkRequester).
	Chained bool
}

// Reporter takes what `fsaudit check` finds about one sink, a line each.
type Reporter interface {
	OK(format string, args ...any)
	Warn(format string, args ...any)
	Fail(format string, args ...any)
}

// Credentialed is a Type whose table names key or credential files; run
// refuses, and check fails, a file that package private does not take.
type Credentialed interface {
	PrivateFiles(s *config.Sink) []private.File
}

// Warner is a Type whose settings work but weaken something; Warnings
// says what, a line each, at every start and in check.
type Warner interface {
	Warnings(s *config.Sink) []string
}

// Checker is a Sink that can ask its destination whether it would take
// records (a connection, a handshake, a topic's metadata) without sending
// one.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckRemote is Check for a sink that sends off the host: it opens the
// sink and asks its destination (Checker); ok is the line reported when
// the destination answers.
func CheckRemote(ctx context.Context, t Type, s *config.Sink, env Env, rep Reporter, ok string) {
	sk, err := t.Open(s, env)
	if err != nil {
		rep.Fail("%s", err)
		return
	}
	defer sk.Close()
	if c, isChecker := sk.(Checker); isChecker {
		if err := c.Check(ctx); err != nil {
			rep.Warn("%s (run starts; records wait in the spool)", err)
			return
		}
	}
	rep.OK("%s", ok)
}

// Named prefixes a sink's name to an error of its own: "sink NAME: ...".
func Named(s *config.Sink, err error) error {
	return fmt.Errorf("sink %s: %w", s.Name, err)
}

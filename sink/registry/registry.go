// Package registry is the table of the types of sink fsaudit is built
// with. Importing it makes each known to config.Parse; a new type is a
// folder under sink/ and a line here.
package registry

import (
	"context"
	"fmt"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/file"
	"github.com/fsaudit/fsaudit/sink/kafka"
	"github.com/fsaudit/fsaudit/sink/null"
	"github.com/fsaudit/fsaudit/sink/stdout"
	"github.com/fsaudit/fsaudit/sink/syslog"
)

// types are the types of sink, by the name a [[sink]]'s type gives, in
// the order messages list them.
var types = []struct {
	name string
	new  func() sink.Type
}{
	{"file", file.New},
	{"syslog", syslog.New},
	{"kafka", kafka.New},
	{"stdout", stdout.New},
	{"null", null.New},
}

func init() {
	for _, t := range types {
		config.RegisterSinkType(t.name, func() config.SinkSettings { return t.new() })
	}
}

// Type is the sink.Type of a parsed [[sink]].
func Type(s *config.Sink) (sink.Type, error) {
	t, ok := s.Settings.(sink.Type)
	if !ok {
		return nil, fmt.Errorf("sink %s: type %s is not available in this build", s.Name, s.Type)
	}
	return t, nil
}

// Open builds the sink of a parsed [[sink]].
func Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	t, err := Type(s)
	if err != nil {
		return nil, err
	}
	return t.Open(s, env)
}

// Check asks the sink of a parsed [[sink]] whether it could take records
// now (sink.Type's Check).
func Check(ctx context.Context, s *config.Sink, env sink.Env, rep sink.Reporter) {
	t, err := Type(s)
	if err != nil {
		rep.Fail("%s", err)
		return
	}
	t.Check(ctx, s, env, rep)
}

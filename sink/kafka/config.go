package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/tlsconf"
	"github.com/segmentio/kafka-go/sasl"
)

// Config holds a Kafka sink's own [[sink]] keys.
type Config struct {
	Brokers     []string `toml:"brokers"`
	Topic       string   `toml:"topic"`
	Key         string   `toml:"key"`
	Acks        string   `toml:"acks"`
	Compression string   `toml:"compression"`
	TLS         bool     `toml:"tls"`
	tlsconf.Files
	SASLMechanism    string `toml:"sasl_mechanism"`
	SASLUsername     string `toml:"sasl_username"`
	SASLPasswordFile string `toml:"sasl_password_file"`
	SASLPasswordEnv  string `toml:"sasl_password_env"`
	CreateTopic      bool   `toml:"create_topic"`
	TopicPartitions  int    `toml:"topic_partitions"`
	TopicReplication int    `toml:"topic_replication"`
}

// New returns a Kafka sink's keys, none set.
func New() sink.Type { return new(Config) }

// OffHost implements config.OffHost.
func (*Config) OffHost() bool { return true }

var (
	keyKinds       = []string{"host", "container", "path", "none"}
	acks           = []string{"all", "leader", "none"}
	compressions   = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	saslMechanisms = []string{"", "plain", "scram-sha-256", "scram-sha-512"}
)

// Defaults implements config.SinkSettings.
func (c *Config) Defaults(*config.Sink, []string) {
	if c.Key == "" {
		c.Key = "host"
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = 6
	}
	if c.TopicReplication == 0 {
		c.TopicReplication = 1
	}
}

// Validate implements config.SinkSettings.
func (c *Config) Validate(_ *config.Sink, _ []string, at func(msg, key string) error) error {
	if len(c.Brokers) == 0 {
		return at("a kafka sink needs at least one broker", "brokers")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return at(fmt.Sprintf("broker %q: want HOST:PORT", b), "brokers")
		}
	}
	if c.Topic == "" {
		return at("a kafka sink needs a topic", "topic")
	}
	if !slices.Contains(keyKinds, c.Key) {
		return at(fmt.Sprintf("unknown key %q: want one of %s", c.Key, strings.Join(keyKinds, ", ")), "key")
	}
	if !slices.Contains(acks, c.Acks) {
		return at(fmt.Sprintf("unknown acks %q: want all, leader or none", c.Acks), "acks")
	}
	if !slices.Contains(compressions, c.Compression) {
		return at(fmt.Sprintf("unknown compression %q: want one of %s", c.Compression, strings.Join(compressions, ", ")), "compression")
	}
	if !slices.Contains(saslMechanisms, c.SASLMechanism) {
		return at(fmt.Sprintf("unknown SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.SASLMechanism), "sasl_mechanism")
	}
	if c.SASLMechanism != "" {
		if c.SASLUsername == "" {
			return at("SASL needs a user name", "sasl_username")
		}
		if (c.SASLPasswordFile == "") == (c.SASLPasswordEnv == "") {
			return at("SASL needs the password from exactly one of sasl_password_file and sasl_password_env", "sasl_password_file")
		}
	}
	if c.SASLPasswordFile != "" && !filepath.IsAbs(c.SASLPasswordFile) {
		return at(fmt.Sprintf("%q is not an absolute path", c.SASLPasswordFile), "sasl_password_file")
	}
	if c.TopicPartitions < 1 {
		return at("must be at least 1", "topic_partitions")
	}
	if c.TopicReplication < 1 {
		return at("must be at least 1", "topic_replication")
	}
	return c.Files.Validate(at)
}

// PrivateFiles implements sink.Credentialed: the client key and the SASL
// password file.
func (c *Config) PrivateFiles(s *config.Sink) []private.File {
	out := c.Files.PrivateFiles(s.Name)
	if c.SASLPasswordFile != "" {
		out = append(out, private.File{What: passwordWhat(s), Path: c.SASLPasswordFile})
	}
	return out
}

func passwordWhat(s *config.Sink) string { return fmt.Sprintf("sink %s: sasl_password_file", s.Name) }

// Warnings implements sink.Warner: SASL without TLS.
func (c *Config) Warnings(*config.Sink) []string {
	if c.SASLMechanism == "" || c.TLS {
		return nil
	}
	if c.SASLMechanism == "plain" {
		return []string{"SASL plain without tls = true sends the password in clear text: set tls = true"}
	}
	return []string{fmt.Sprintf("SASL %s without tls = true lets anyone who records the exchange guess the password offline, and records travel in clear text: set tls = true", c.SASLMechanism)}
}

// Client is how a Kafka client reaches the sink's brokers: its TLS (nil
// without tls = true) and SASL (nil without sasl_mechanism), files read
// through package private. Replay reads with it too.
func (c *Config) Client(s *config.Sink) (*tls.Config, sasl.Mechanism, error) {
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = c.Files.Config(s.Name); err != nil {
			return nil, nil, err
		}
	}
	if c.SASLMechanism == "" {
		return tc, nil, nil
	}
	password, err := c.password(s)
	if err != nil {
		return nil, nil, err
	}
	m, err := SASLMechanism(c.SASLMechanism, c.SASLUsername, password)
	if err != nil {
		return nil, nil, sink.Named(s, err)
	}
	return tc, m, nil
}

// password reads the SASL password from its file (one trailing newline
// dropped; the file read through private.Read) or its environment
// variable. Its value is never logged.
func (c *Config) password(s *config.Sink) (string, error) {
	if c.SASLPasswordEnv != "" {
		v, ok := os.LookupEnv(c.SASLPasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("sink %s: sasl_password_env: environment variable %s is not set", s.Name, c.SASLPasswordEnv)
		}
		return v, nil
	}
	b, err := private.Read(c.SASLPasswordFile, passwordWhat(s))
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("sink %s: sasl_password_file %s is empty", s.Name, c.SASLPasswordFile)
	}
	return v, nil
}

// Open implements sink.Type.
func (c *Config) Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	tc, m, err := c.Client(s)
	if err != nil {
		return nil, err
	}
	return NewSink(Options{
		Name: s.Name, Brokers: c.Brokers, Topic: c.Topic, Key: c.Key, Acks: c.Acks,
		Compression: c.Compression, CreateTopic: c.CreateTopic, Partitions: c.TopicPartitions,
		Replication: c.TopicReplication, BatchSize: s.BatchSize, HostName: env.HostName, Format: env.Format,
		TLS: tc, SASL: m,
	})
}

// Check implements sink.Type: the brokers answer and have the topic (or
// will create it).
func (c *Config) Check(ctx context.Context, s *config.Sink, env sink.Env, rep sink.Reporter) {
	sink.CheckRemote(ctx, c, s, env, rep, fmt.Sprintf("kafka %s topic %s is there (%s)", strings.Join(c.Brokers, ","), c.Topic, s.Format))
}

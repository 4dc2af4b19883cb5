package syslog

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/tlsconf"
)

// Config holds a syslog sink's own [[sink]] keys.
type Config struct {
	Address         string `toml:"address"` // udp://, tcp:// or tls:// HOST:PORT
	Protocol        string `toml:"protocol"`
	Framing         string `toml:"framing"`
	Facility        string `toml:"facility"`
	Severity        string `toml:"severity"`
	MaxMessageBytes int    `toml:"max_message_bytes"`
	// EnterpriseNumber is N of the STRUCTURED-DATA's SD-ID fsaudit@N: a
	// private enterprise number from IANA (see DefaultEnterpriseNumber).
	EnterpriseNumber int `toml:"enterprise_number"`
	tlsconf.Files        // tls:// only
}

// New returns a syslog sink's keys, none set.
func New() sink.Type { return new(Config) }

// OffHost implements config.OffHost.
func (*Config) OffHost() bool { return true }

func (c *Config) scheme() (scheme, hostPort string) {
	scheme, hostPort, _ = strings.Cut(c.Address, "://")
	return scheme, hostPort
}

// Defaults implements config.SinkSettings.
func (c *Config) Defaults(*config.Sink, []string) {
	udp := strings.HasPrefix(c.Address, "udp://")
	if c.Protocol == "" {
		c.Protocol = "rfc5424"
	}
	if c.Framing == "" && !udp {
		c.Framing = "octet-counting"
	}
	if c.Facility == "" {
		c.Facility = "local0"
	}
	if c.Severity == "" {
		c.Severity = "notice"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 65536
		if udp {
			c.MaxMessageBytes = 8192
		}
	}
	if c.EnterpriseNumber == 0 {
		c.EnterpriseNumber = DefaultEnterpriseNumber
	}
}

// Validate implements config.SinkSettings.
func (c *Config) Validate(_ *config.Sink, set []string, at func(msg, key string) error) error {
	scheme, hostPort := c.scheme()
	if !slices.Contains([]string{"udp", "tcp", "tls"}, scheme) || hostPort == "" {
		return at(fmt.Sprintf("address %q: want udp://, tcp:// or tls:// HOST:PORT", c.Address), "address")
	}
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		return at(fmt.Sprintf("address %q: want HOST:PORT after the scheme", c.Address), "address")
	}
	if c.Protocol != "rfc5424" && c.Protocol != "rfc3164" {
		return at(fmt.Sprintf("unknown protocol %q: want rfc5424 or rfc3164", c.Protocol), "protocol")
	}
	if scheme == "udp" && c.Framing != "" {
		return at("a UDP datagram holds one message: framing applies to tcp:// and tls://", "framing")
	}
	if scheme != "udp" && c.Framing != "octet-counting" && c.Framing != "newline" {
		return at(fmt.Sprintf("unknown framing %q: want octet-counting or newline", c.Framing), "framing")
	}
	if _, ok := Facility(c.Facility); !ok {
		return at(fmt.Sprintf("unknown facility %q: want a name such as local0, authpriv or audit, or 0 to 23", c.Facility), "facility")
	}
	if _, ok := Severity(c.Severity); !ok {
		return at(fmt.Sprintf("unknown severity %q: want emerg, alert, crit, err, warning, notice, info or debug", c.Severity), "severity")
	}
	if c.MaxMessageBytes < 1024 {
		return at("must be at least 1024: the header alone may take several hundred bytes", "max_message_bytes")
	}
	if scheme == "udp" && c.MaxMessageBytes > 65507 {
		return at("a UDP datagram holds at most 65507 bytes", "max_message_bytes")
	}
	if c.Protocol == "rfc3164" && slices.Contains(set, "enterprise_number") {
		return at("names the SD-ID of RFC 5424's STRUCTURED-DATA, which rfc3164 has none of", "enterprise_number")
	}
	if c.EnterpriseNumber < 1 || c.EnterpriseNumber > 1<<31-1 {
		return at(fmt.Sprintf("%d: want a private enterprise number from IANA, 1 to 2147483647", c.EnterpriseNumber), "enterprise_number")
	}
	if scheme != "tls" {
		if set := c.Files.Set(); len(set) > 0 {
			return at("applies to tls:// addresses only", set[0].Key)
		}
	}
	return c.Files.Validate(at)
}

// PrivateFiles implements sink.Credentialed.
func (c *Config) PrivateFiles(s *config.Sink) []private.File { return c.Files.PrivateFiles(s.Name) }

// Open implements sink.Type.
func (c *Config) Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	network, addr := c.scheme()
	o := Options{
		Name: s.Name, Network: network, Address: addr, Protocol: c.Protocol, Framing: c.Framing,
		MaxMessageBytes: c.MaxMessageBytes, EnterpriseNumber: c.EnterpriseNumber, Format: env.Format,
	}
	o.Facility, _ = Facility(c.Facility)
	o.Severity, _ = Severity(c.Severity)
	if network == "tls" {
		var err error
		if o.TLS, err = c.Files.Config(s.Name); err != nil {
			return nil, err
		}
	}
	return NewSink(o), nil
}

// Check implements sink.Type: a connection (and TLS handshake) to the
// receiver; over UDP, a socket.
func (c *Config) Check(ctx context.Context, s *config.Sink, env sink.Env, rep sink.Reporter) {
	ok := fmt.Sprintf("syslog %s connected, %s (%s)", c.Address, c.Protocol, s.Format)
	if scheme, _ := c.scheme(); scheme == "udp" {
		ok = fmt.Sprintf("syslog %s UDP socket ready (UDP cannot tell whether anyone listens), %s (%s)", c.Address, c.Protocol, s.Format)
	}
	sink.CheckRemote(ctx, c, s, env, rep, ok)
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "security": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility returns the syslog facility code of a name or number.
func Facility(v string) (int, bool) {
	if n, ok := facilities[v]; ok {
		return n, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0 && n <= 23
}

var severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Severity returns the syslog severity code of a name.
func Severity(v string) (int, bool) {
	i := slices.Index(severities, v)
	return i, i >= 0
}

// Package tlsconf owns the TLS keys that sinks sending off the host share
// (tls_ca_file, tls_cert_file, tls_key_file, tls_server_name): their
// checks, and the client configuration made from them, the key read
// through package private.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fsaudit/fsaudit/internal/private"
)

// Files are the TLS keys of a [[sink]]; a sink's settings embed them.
type Files struct {
	CAFile     string `toml:"tls_ca_file"`
	CertFile   string `toml:"tls_cert_file"`
	KeyFile    string `toml:"tls_key_file"`
	ServerName string `toml:"tls_server_name"`
}

// Set lists the keys given, each with its value.
func (f *Files) Set() []struct{ Key, Value string } {
	var out []struct{ Key, Value string }
	for _, k := range []struct{ Key, Value string }{{"tls_ca_file", f.CAFile}, {"tls_cert_file", f.CertFile}, {"tls_key_file", f.KeyFile}, {"tls_server_name", f.ServerName}} {
		if k.Value != "" {
			out = append(out, k)
		}
	}
	return out
}

// Validate checks that a client certificate comes with its key and that
// the files are absolute paths.
func (f *Files) Validate(at func(msg, key string) error) error {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return at("a client certificate needs both tls_cert_file and tls_key_file", "tls_cert_file")
	}
	for _, k := range f.Set() {
		if k.Key != "tls_server_name" && !filepath.IsAbs(k.Value) {
			return at(fmt.Sprintf("%q is not an absolute path", k.Value), k.Key)
		}
	}
	return nil
}

// PrivateFiles lists the client key of sink name.
func (f *Files) PrivateFiles(name string) []private.File {
	if f.KeyFile == "" {
		return nil
	}
	return []private.File{{What: fmt.Sprintf("sink %s: tls_key_file", name), Path: f.KeyFile}}
}

// Config reads the CA and client certificate files of sink name, the key
// through private.Read, into a client configuration (TLS 1.2 at least).
func (f *Files) Config(name string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: tls_ca_file: %w", name, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink %s: tls_ca_file %s: no PEM certificate in it", name, f.CAFile)
		}
	}
	if f.CertFile != "" {
		certPEM, err := os.ReadFile(f.CertFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: tls_cert_file: %w", name, err)
		}
		keyPEM, err := private.Read(f.KeyFile, fmt.Sprintf("sink %s: tls_key_file", name))
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("sink %s: client certificate %s with key %s: %w", name, f.CertFile, f.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

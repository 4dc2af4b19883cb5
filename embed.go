// Package fsaudit carries the files the binary embeds from the repository's
// top level: the default configuration.
package fsaudit

import _ "embed"

// DefaultConfig is the repository's config.toml, used by `fsaudit run` when
// no config file is given or installed.
//
//go:embed config.toml
var DefaultConfig []byte

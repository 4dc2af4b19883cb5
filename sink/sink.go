// Package sink owns delivering encoded records to their destinations: the
// Sink interface and the file and stdout sinks.
package sink

import "context"

// A Sink delivers batches of encoded records to one destination.
type Sink interface {
	// Name is the sink's unique name from the config.
	Name() string
	// Write returns once the destination has accepted the whole batch, or
	// an error saying what it did not accept.
	Write(ctx context.Context, batch [][]byte) error
	// Close flushes and releases the destination.
	Close() error
}

// Reopener is a Sink that holds files a log rotator may move away; Reopen
// opens them again at their configured paths (on SIGHUP).
type Reopener interface {
	Reopen() error
}

// Package sink owns delivering records to their destinations: the Sink
// interface a type of sink implements (each in a folder of its own below
// this one, listed in sink/registry), and the router that gives every
// sink its own queue, filter, batching, retries, spool and hash chain.
package sink

import (
	"context"
	"time"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/record"
)

// The batching of a route whose options leave it out: the [[sink]]
// table's defaults.
const (
	DefaultBatchSize    = config.DefaultBatchSize
	DefaultBatchTimeout = config.DefaultBatchTimeout
)

// Message is one record as a sink sends it: the encoded record in the
// sink's format and envelope, and a key where the destination has keys.
type Message struct {
	Key   []byte
	Value []byte
	Time  time.Time // the event's time, where the destination keeps one (Kafka)
	// Mark: the seal record a MarkRequester asked for, which starts its
	// next file.
	Mark bool
}

// A Sink delivers records to one destination.
type Sink interface {
	// Name is the sink's unique name from the config.
	Name() string
	// Encode appends r, in the sink's format and envelope, to buf and
	// returns the grown buffer and the message, whose slices point into it.
	Encode(buf []byte, r *record.Record) ([]byte, Message)
	// Write returns nil once the destination has acknowledged the whole
	// batch (a broker's ack, a flushed connection, a written file), or an
	// error; the batch may then be written again.
	Write(ctx context.Context, batch []Message) error
	// Close flushes and releases the destination.
	Close() error
}

// Reopener is a Sink that holds files a log rotator may move away; Reopen
// opens them again at their configured paths (on SIGHUP).
type Reopener interface {
	Reopen() error
}

// MarkRequester is a Sink that starts each file with a seal record of its
// chain: TakeMarkRequest says, once per file due to end, that it wants
// one, and the sink starts its next file at the message marked so.
type MarkRequester interface {
	TakeMarkRequest() bool
}

// JSONEncoder is a sink that, in the json format, can take a record its
// router already encoded (for the hash chain): EncodeJSON appends json,
// the record's encoding, in the sink's envelope, and says false when the
// sink's format is another.
type JSONEncoder interface {
	EncodeJSON(buf []byte, r *record.Record, json []byte) ([]byte, Message, bool)
}

// AppendLine encodes r in f, then a newline: the envelope of line-based
// sinks (files, stdout). Formats never write a raw newline themselves.
func AppendLine(buf []byte, r *record.Record, f record.Format) ([]byte, Message) {
	start := len(buf)
	buf = f.Append(buf, r)
	buf = append(buf, '\n')
	return buf, Message{Value: buf[start:]}
}

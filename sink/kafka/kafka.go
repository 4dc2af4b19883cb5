// Package kafka owns the Kafka sink: records produced to a topic, keyed
// and acknowledged as configured, and its [[sink]] keys, which replay
// also takes to reach the brokers.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Options configure a Kafka sink.
type Options struct {
	Name        string
	Brokers     []string
	Topic       string
	Key         string // host, container, path or none
	Acks        string // all, leader or none
	Compression string // none, gzip, snappy, lz4 or zstd
	TLS         *tls.Config
	SASL        sasl.Mechanism
	// CreateTopic creates Topic at start when the brokers lack it.
	CreateTopic bool
	Partitions  int
	Replication int
	BatchSize   int // the most records in one produce request per partition
	HostName    string
	Format      record.Format
	// WriteTimeout bounds one produce attempt; kafka-go makes up to three
	// per partition, so a Write to brokers that hang takes about 3 times it.
	WriteTimeout time.Duration
}

// SASLMechanism builds a SASL mechanism by its config name.
func SASLMechanism(name, user, password string) (sasl.Mechanism, error) {
	switch name {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: user, Password: password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, user, password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, user, password)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q", name)
}

// Sink produces records to a topic. A batch is acknowledged once the
// brokers acknowledged every message as Acks asks (all in-sync replicas by
// default).
type Sink struct {
	opts    Options
	w       *kafkago.Writer
	client  *kafkago.Client
	headers []kafkago.Header
	msgs    []kafkago.Message
	created bool // the topic exists, or CreateTopic is off
}

var _ sink.Sink = (*Sink)(nil)

// NewSink prepares the producer; it connects on the first write (or Check).
func NewSink(o Options) (*Sink, error) {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = sink.DefaultBatchSize
	}
	tr := &kafkago.Transport{
		ClientID:    "fsaudit",
		DialTimeout: 10 * time.Second,
		TLS:         o.TLS,
		SASL:        o.SASL,
		MetadataTTL: 5 * time.Second, // leader moves and new topics are found within this
	}
	w := &kafkago.Writer{
		Addr:      kafkago.TCP(o.Brokers...),
		Topic:     o.Topic,
		Transport: tr,
		// The router batches already: the writer sends what it is given at once.
		BatchSize:    o.BatchSize,
		BatchBytes:   1 << 20,
		BatchTimeout: time.Millisecond,
		WriteTimeout: o.WriteTimeout,
		ReadTimeout:  o.WriteTimeout,
		// kafka-go retries each partition's batch on its own: a partition
		// that failed does not make the others' messages go twice.
		MaxAttempts:     3,
		WriteBackoffMin: 100 * time.Millisecond,
		WriteBackoffMax: time.Second,
	}
	switch o.Key {
	case "none":
		w.Balancer = &kafkago.RoundRobin{}
	default:
		// The Java client's partitioner: records of one key share a
		// partition whatever the language of the other producers.
		w.Balancer = kafkago.Murmur2Balancer{}
	}
	switch o.Acks {
	case "", "all":
		w.RequiredAcks = kafkago.RequireAll
	case "leader":
		w.RequiredAcks = kafkago.RequireOne
	case "none":
		w.RequiredAcks = kafkago.RequireNone
	default:
		return nil, fmt.Errorf("kafka sink %s: unknown acks %q", o.Name, o.Acks)
	}
	switch o.Compression {
	case "", "none":
	case "gzip":
		w.Compression = kafkago.Gzip
	case "snappy":
		w.Compression = kafkago.Snappy
	case "lz4":
		w.Compression = kafkago.Lz4
	case "zstd":
		w.Compression = kafkago.Zstd
	default:
		return nil, fmt.Errorf("kafka sink %s: unknown compression %q", o.Name, o.Compression)
	}
	k := &Sink{
		opts: o, w: w,
		client:  &kafkago.Client{Addr: kafkago.TCP(o.Brokers...), Transport: tr, Timeout: 10 * time.Second},
		created: !o.CreateTopic,
		headers: []kafkago.Header{
			{Key: "fsaudit.schema", Value: []byte(record.SchemaVersion)},
			{Key: "fsaudit.format", Value: []byte(o.Format.Name())},
			{Key: "fsaudit.host", Value: []byte(o.HostName)},
		},
	}
	return k, nil
}

// Name implements Sink.
func (k *Sink) Name() string { return k.opts.Name }

// Encode implements Sink: the record in the sink's format as the value,
// the event's time as the message's timestamp (so the brokers' time index,
// which replay seeks by, follows event time), keyed as configured, the key being the record's field as its JSON reads
// (invalid UTF-8 as U+FFFD). Records without a container are keyed by host
// under key = "container", so that a host's own writes stay in order too.
func (k *Sink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	var key []byte
	start := len(buf)
	switch k.opts.Key {
	case "host":
		buf = record.AppendValidUTF8(buf, r.Host.Name)
	case "container":
		if r.Container.ID != "" {
			buf = record.AppendValidUTF8(buf, r.Container.ID)
		} else {
			buf = record.AppendValidUTF8(buf, r.Host.Name)
		}
	case "path":
		buf = record.AppendValidUTF8(buf, r.File.Path)
	}
	if k.opts.Key != "none" {
		key = buf[start:]
	}
	start = len(buf)
	buf = k.opts.Format.Append(buf, r)
	return buf, sink.Message{Key: key, Value: buf[start:], Time: r.Time}
}

// Write implements Sink. Messages the brokers refused are sent again, up to
// twice, before the batch is reported as failed.
func (k *Sink) Write(ctx context.Context, batch []sink.Message) error {
	if !k.created {
		// Created on the first write, not at start: the agent starts even
		// when the brokers cannot be reached yet. Only when it is missing:
		// a producer may lack the right to create topics.
		if !k.topicExists(ctx) {
			if err := k.createTopic(ctx); err != nil {
				return err
			}
		}
		k.created = true
	}
	k.msgs = k.msgs[:0]
	for _, m := range batch {
		k.msgs = append(k.msgs, kafkago.Message{Key: m.Key, Value: m.Value, Headers: k.headers, Time: m.Time})
	}
	msgs := k.msgs
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = k.w.WriteMessages(ctx, msgs...)
		var werrs kafkago.WriteErrors
		if err == nil || !errors.As(err, &werrs) || ctx.Err() != nil {
			break
		}
		failed := msgs[:0:0]
		for i, e := range werrs {
			if e != nil {
				failed = append(failed, msgs[i])
			}
		}
		msgs = failed
		err = fmt.Errorf("%d of %d messages refused: %w", len(failed), len(batch), firstError(werrs))
	}
	if err != nil {
		return fmt.Errorf("kafka sink %s: producing to %s: %w", k.opts.Name, k.opts.Topic, err)
	}
	return nil
}

func firstError(errs kafkago.WriteErrors) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Check asks the brokers for the topic's metadata and says in one error
// what is wrong. A missing topic is fine when CreateTopic is set: the first
// write creates it.
func (k *Sink) Check(ctx context.Context) error {
	md, err := k.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{k.opts.Topic}})
	if err != nil {
		return fmt.Errorf("kafka sink %s: metadata from %v: %w", k.opts.Name, k.opts.Brokers, err)
	}
	for _, t := range md.Topics {
		if t.Name != k.opts.Topic {
			continue
		}
		if t.Error != nil && !(k.opts.CreateTopic && errors.Is(t.Error, kafkago.UnknownTopicOrPartition)) {
			return fmt.Errorf("kafka sink %s: topic %s: %w", k.opts.Name, k.opts.Topic, t.Error)
		}
		return nil
	}
	if k.opts.CreateTopic {
		return nil
	}
	return fmt.Errorf("kafka sink %s: topic %s: not in the brokers' metadata", k.opts.Name, k.opts.Topic)
}

// topicExists asks the brokers whether the topic is there.
func (k *Sink) topicExists(ctx context.Context) bool {
	md, err := k.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{k.opts.Topic}})
	if err != nil {
		return false
	}
	for _, t := range md.Topics {
		if t.Name == k.opts.Topic && t.Error == nil {
			return true
		}
	}
	return false
}

// createTopic creates the topic; one that exists already is fine.
func (k *Sink) createTopic(ctx context.Context) error {
	resp, err := k.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: k.opts.Topic, NumPartitions: k.opts.Partitions, ReplicationFactor: k.opts.Replication,
	}}})
	if err != nil {
		return fmt.Errorf("kafka sink %s: creating topic %s: %w", k.opts.Name, k.opts.Topic, err)
	}
	if e := resp.Errors[k.opts.Topic]; e != nil && !errors.Is(e, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("kafka sink %s: creating topic %s (%d partitions, replication %s): %w",
			k.opts.Name, k.opts.Topic, k.opts.Partitions, strconv.Itoa(k.opts.Replication), e)
	}
	return nil
}

// Close implements Sink: it flushes what the writer holds.
func (k *Sink) Close() error {
	if err := k.w.Close(); err != nil {
		return fmt.Errorf("kafka sink %s: closing: %w", k.opts.Name, err)
	}
	return nil
}

package replay

// Checks of what is read: is it a record of this version, and does it
// follow its host's chain.

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/segmentio/kafka-go"
)

// classify reads a message into r, or says why it is not a record.
func classify(m *kafka.Message, r *record.Record) string {
	for _, h := range m.Headers {
		switch h.Key {
		case "fsaudit.schema":
			if !record.ReadsSchema(string(h.Value)) {
				return "schema version " + strconv.Quote(string(h.Value))
			}
		case "fsaudit.format":
			if string(h.Value) != "json" {
				return "format " + strconv.Quote(string(h.Value)) + " (only json records read back)"
			}
		}
	}
	if len(m.Value) == 0 {
		return "empty message"
	}
	if err := record.ParseJSON(m.Value, r); err != nil {
		// A record cut short starts as one and does not end its object.
		v := bytes.TrimRight(m.Value, " \r\n")
		if bytes.HasPrefix(v, []byte(`{"@timestamp":`)) && !bytes.HasSuffix(v, []byte("}")) {
			return "truncated record"
		}
		return "not an fsaudit record"
	}
	if !record.KnownAction(r.Action) {
		return "unknown event.action " + strconv.Quote(r.Action)
	}
	return ""
}

// chainStream is one chain a topic holds in order: a host's records in a
// partition.
type chainStream struct {
	partition int
	host      string
}

// chainChecks verifies the chains of a replay's records as they are read.
type chainChecks struct {
	key []byte
	by  map[chainStream]*chain.Verifier
}

// check verifies the next record of host in partition (at offset), and
// tells a break in sum; the stream then goes on from that record.
func (c *chainChecks) check(sum *Summary, partition int, offset int64, host string, value []byte) {
	k := chainStream{partition, host}
	v := c.by[k]
	if v == nil {
		v = c.verifier()
		c.by[k] = v
	}
	sum.ChainChecked++
	where := fmt.Sprintf("partition %d offset %d (host %s)", partition, offset, host)
	if err := v.Line(where, value); err != nil {
		sum.ChainBroken++
		if len(sum.ChainBreaks) < maxSkips {
			sum.ChainBreaks = append(sum.ChainBreaks, err.Error())
		}
		v = c.verifier()
		c.by[k] = v
		v.Line(where, value)
	}
}

// verifier starts a stream's check anywhere in its chain, remembering
// the last 65,536 records to tell a resend (a spool's backlog sent
// again), so that many hosts cost bounded memory each.
func (c *chainChecks) verifier() *chain.Verifier {
	v := chain.NewVerifier(c.key, nil)
	v.AnyStart, v.AllowReplayed, v.DuplicateWindow = true, true, 1<<16
	return v
}

// restart forgets where the streams of a partition stood: a message
// skipped there (not a record of this version) or offsets gone (retention)
// may have been a record of any of them, and what follows is no break.
func (c *chainChecks) restart(partition int) {
	for k := range c.by {
		if k.partition == partition {
			delete(c.by, k)
		}
	}
}

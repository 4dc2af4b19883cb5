package sink

import (
	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
)

// linker links the records of one sink's stream into its hash chain: it
// keeps a chained copy of the record at hand and the encodings the chain
// is computed over, reused from record to record.
type linker struct {
	c         *chain.Chainer
	linked    record.Record // the chained copy of the record at hand
	canonical []byte        // its json encoding without the chain
	full      []byte        // and with it
	lastHash  chain.Hash    // the last hash linked, and in hex: the next one's prev
	lastHex   string
}

// link chains a copy of rec and returns it and where the chain stands
// after it. The copy is valid until the next call.
func (l *linker) link(rec *record.Record) (*record.Record, chain.State) {
	l.linked = *rec
	l.linked.FSAudit.Chain = record.Chain{}
	l.canonical = record.AppendJSON(l.canonical[:0], &l.linked)
	prev, own := l.c.Next(l.canonical)
	if prev.Hash != l.lastHash || l.lastHex == "" {
		l.lastHex = prev.Hash.String()
	}
	prevHex := l.lastHex
	l.lastHash, l.lastHex = own.Hash, own.Hash.String()
	l.linked.FSAudit.Chain = record.Chain{Seq: own.Seq, Prev: prevHex, Hash: l.lastHex}
	return &l.linked, own
}

// json is the last linked record's json encoding: its canonical one with
// the chain, made without encoding the record again.
func (l *linker) json() []byte {
	l.full = record.AppendChained(l.full[:0], l.canonical, l.linked.FSAudit.Chain)
	return l.full
}

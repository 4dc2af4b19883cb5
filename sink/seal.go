package sink

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/rs/zerolog"
)

// sealToken is one seal a route owes its chain: why, and with a sealing
// key, the epoch and the sink's token of it.
type sealToken struct {
	reason string
	keyed  bool
	epoch  uint64
	keyID  string
	token  [32]byte
}

// sealQueue holds the seals a route owes, in the order of their rounds,
// until its run loop makes them.
type sealQueue struct {
	mu     sync.Mutex
	owed   []sealToken
	ready  chan struct{} // signalled when owed grows
	inited sync.Once
}

func (q *sealQueue) init() { q.inited.Do(func() { q.ready = make(chan struct{}, 1) }) }

func (q *sealQueue) push(t sealToken) {
	q.mu.Lock()
	q.owed = append(q.owed, t)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns the seals owed, in order; with last false, it stops before
// a stop seal, which must follow every record still queued.
func (q *sealQueue) take(last bool) []sealToken {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.owed)
	if !last {
		for i, t := range q.owed {
			if t.reason == chain.SealStop {
				n = i
				break
			}
		}
	}
	t := append([]sealToken(nil), q.owed[:n]...)
	// The tokens leave no copy behind in the queue's array.
	rest := append([]sealToken(nil), q.owed[n:]...)
	clear(q.owed)
	q.owed = rest
	return t
}

// round gives every chained sink a seal of reason: with a sealing key, one
// epoch of it (the key has evolved, and is erased from the disk, before any
// sink makes its seal); without one, or when the key cannot evolve, a seal
// without a MAC.
func (rt *Router) round(reason string) {
	var chained []*route
	var names []string
	for _, r := range rt.routes {
		if r.opts.Chain != nil {
			chained = append(chained, r)
			names = append(names, r.sink.Name())
		}
	}
	if len(chained) == 0 {
		return
	}
	if k := rt.sealing.Key; k != nil {
		epoch, tokens, err := k.Round(names)
		if err == nil {
			for i, r := range chained {
				r.seals.push(sealToken{reason: reason, keyed: true, epoch: epoch, keyID: k.ID(), token: tokens[i]})
				clear(tokens[i][:])
			}
			return
		}
		rt.log.Error().Err(err).Str("seal", reason).Msg("sealing: the key did not evolve: this seal carries no MAC")
		if reason == chain.SealInterval {
			return // no epoch was used: the next round seals it
		}
	}
	for _, r := range chained {
		r.seals.push(sealToken{reason: reason})
	}
}

// sealEvery seals every chained sink each Interval until Close.
func (rt *Router) sealEvery(ctx context.Context) {
	defer rt.sealWG.Done()
	t := time.NewTicker(rt.sealing.Interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			rt.round(chain.SealInterval)
		case <-rt.endSeal:
			return
		case <-ctx.Done():
			return
		}
	}
}

// sealGrace is how late a seal may come after its interval before a
// verifier calls it missing: the interval's tenth, at least five seconds.
func sealGrace(interval time.Duration) time.Duration {
	return max(interval/10, 5*time.Second)
}

// sealRecord makes the seal record t owes: it covers the record the chain
// ends with now, and with a key carries the MAC of the sink's token.
func (r *route) sealRecord(t sealToken) *record.Record {
	var rec *record.Record
	s := r.sealing
	if s != nil && s.Record != nil {
		rec = s.Record()
	} else {
		rec = &record.Record{Time: time.Now()}
	}
	rec.Action = record.ActionSeal
	at := r.opts.Chain.State()
	sl := &record.Seal{Reason: t.reason, Sink: r.sink.Name(), Sequence: at.Seq, Hash: at.Hash.String()}
	if s != nil {
		sl.Instance = s.Instance
	}
	if t.keyed {
		cs := chain.Seal{Reason: t.reason, Sink: sl.Sink, Instance: sl.Instance, Seq: at.Seq, Hash: at.Hash,
			Time: rec.Time, Epoch: t.epoch, KeyID: t.keyID}
		if t.reason != chain.SealStop && s.Interval > 0 {
			cs.NextBefore = rec.Time.Add(s.Interval + sealGrace(s.Interval))
		}
		mac := cs.MAC(t.token)
		clear(t.token[:])
		sl.Epoch, sl.KeyID, sl.NextBefore, sl.MAC = t.epoch, t.keyID, cs.NextBefore, hex.EncodeToString(mac[:])
	}
	rec.FSAudit = record.FSAudit{Seal: sl}
	return rec
}

// offer queues a copy of another sink's seal record for this sink, its
// anchor, without waiting: a full queue loses it, counted and logged as a
// record would be.
func (r *route) offer(log zerolog.Logger, rec *record.Record) {
	select {
	case r.q <- rec:
	default:
		r.stats.Dropped.Add(1)
		log.Error().Str("anchor", r.sink.Name()).Msg("the anchor sink's queue is full: a seal was not anchored")
	}
}

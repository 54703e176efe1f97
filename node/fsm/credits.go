package fsm

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/license"
)

// Limits on credit consumption.
const (
	// RequestIDLen is the length of a consumption's request ID.
	RequestIDLen = 16
	// receiptTTLms is how long a consumption's receipt is kept so that a
	// retry of the same request is answered instead of applied twice. A
	// collector retries within seconds; ten minutes covers a failover and
	// a slow network many times over.
	receiptTTLms = 10 * 60 * 1000
	// maxReceipts bounds the receipts kept per collector; past it the
	// oldest go first. It bounds the state whatever a collector does.
	maxReceipts = 1024
)

// ConsumeCredits takes Amount units of usage credits of Unit from the
// licenses in force, all or nothing (seed 001's "on usage" licenses: stop
// when exhausted). Collector is set by the master from the caller's
// certificate; RequestID (16 bytes, hex on the wire) makes a retry safe:
// the same collector and request ID within receiptTTLms gets the first
// answer back and consumes nothing more.
type ConsumeCredits struct {
	Collector string
	RequestID string // hex of RequestIDLen bytes
	Unit      string
	Amount    int64
	Now       int64
}

func (ConsumeCredits) msgType() MsgType { return ConsumeCreditsType }
func (c ConsumeCredits) now() int64     { return c.Now }

func (c ConsumeCredits) validate() error {
	if err := firstErr(checkNow(c.Now), checkID("collector id", c.Collector)); err != nil {
		return err
	}
	if b, err := hex.DecodeString(c.RequestID); err != nil || len(b) != RequestIDLen {
		return fmt.Errorf("%w: consume credits: request id must be %d bytes in hex", ErrMalformed, RequestIDLen)
	}
	if err := checkIDPlain("credit unit", c.Unit); err != nil || len(c.Unit) > license.MaxItemNameLen {
		return fmt.Errorf("%w: consume credits: unit %q is not a credit unit name", ErrMalformed, clip(c.Unit))
	}
	if c.Amount < 1 || c.Amount > license.MaxCredits {
		return fmt.Errorf("%w: consume credits: amount %d out of range 1..%d", ErrMalformed, c.Amount, int64(license.MaxCredits))
	}
	return nil
}

// CreditReceipt is the answer to one consumption: which license paid, how
// much is left on it and whether that is at or below its alert level.
type CreditReceipt struct {
	Collector string
	RequestID string
	License   license.LicenseID
	Unit      string
	Amount    int64
	Remaining int64
	Low       bool
	At        int64
}

// CreditBalance is one license's usage credits at trusted time.
type CreditBalance struct {
	License   license.LicenseID
	Unit      string
	Bought    int64
	Remaining int64
	// Low is set at or below the license's alert level, and when exhausted.
	Low       bool
	Exhausted bool
}

// creditState is the running side of usage credits: what each license's
// balance has been charged, and recent receipts for idempotent retries.
// Licenses are immutable records, so the balance lives here, keyed by
// license ID, and goes when its license goes.
type creditState struct {
	consumed map[license.LicenseID]int64
	receipts map[string]map[string]CreditReceipt // collector → request ID →
}

func newCreditState() creditState {
	return creditState{consumed: map[license.LicenseID]int64{}, receipts: map[string]map[string]CreditReceipt{}}
}

func (c creditState) clone() creditState {
	out := creditState{consumed: maps.Clone(c.consumed), receipts: make(map[string]map[string]CreditReceipt, len(c.receipts))}
	for k, v := range c.receipts {
		out.receipts[k] = maps.Clone(v)
	}
	return out
}

// balance is l's credits at trusted time; ok is false for a license
// without credits.
func (s *state) balance(l *license.License) (CreditBalance, bool) {
	if l.Credits == nil {
		return CreditBalance{}, false
	}
	c := *l.Credits
	c.Balance = max(c.Balance-s.credits.consumed[l.ID], 0)
	return CreditBalance{License: l.ID, Unit: c.Unit, Bought: l.Credits.Balance, Remaining: c.Balance,
		Low: c.Low(), Exhausted: c.Exhausted()}, true
}

// applyConsumeCredits charges the first license in force, by expiry (the
// soonest first, so credits that would lapse are used before lasting
// ones) then ID, whose unit matches and whose balance covers the whole
// amount. It refuses with ErrUnknownCreditUnit when no license in force
// sells that unit, and with ErrCreditsExhausted when none has enough left.
func applyConsumeCredits(s *state, ac *applyCtx, c *ConsumeCredits) Response {
	if _, ok := s.collectors.m[c.Collector]; !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownCollector, c.Collector)}
	}
	mine := s.credits.receipts[c.Collector]
	if r, ok := mine[c.RequestID]; ok {
		return Response{Credit: &r}
	}
	type cand struct {
		l   *license.License
		bal CreditBalance
	}
	var cands []cand
	var left int64
	for _, id := range s.licenseIDs() {
		l := s.licenses[id].lic
		if l.Credits == nil || l.Credits.Unit != c.Unit || !inForce(standing(l, ac.at).Phase) {
			continue
		}
		b, _ := s.balance(l)
		cands = append(cands, cand{l, b})
		left += b.Remaining
	}
	if len(cands) == 0 {
		return Response{Err: fmt.Errorf("%w: no license in force sells credits of unit %q", ErrUnknownCreditUnit, c.Unit)}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		return cmp.Compare(graceEndMs(a.l), graceEndMs(b.l))
	})
	for _, cd := range cands {
		if cd.bal.Remaining < c.Amount {
			continue
		}
		s.credits.consumed[cd.l.ID] += c.Amount
		s.upstream.mark(string(markCredit)+"\x00"+string(cd.l.ID), s.index)
		b, _ := s.balance(cd.l)
		r := CreditReceipt{Collector: c.Collector, RequestID: c.RequestID, License: cd.l.ID, Unit: c.Unit,
			Amount: c.Amount, Remaining: b.Remaining, Low: b.Low, At: ac.at}
		s.keepReceipt(r)
		// Entitlement documents carry each balance, but re-signing every
		// collector's document at every consumption would cost the masters
		// far more than the consumption: documents are re-sent when a
		// balance turns low or runs out, and show the rest at their next
		// refresh. The masters enforce the balance; the copy is advisory.
		if b.Low != cd.bal.Low || b.Exhausted != cd.bal.Exhausted {
			s.entChanged = s.index
		}
		return Response{Credit: &r}
	}
	return Response{Err: fmt.Errorf("%w: %w: %d %s needed, %d left across %d license(s), none with enough alone",
		ErrCreditsExhausted, license.ErrCreditsExhausted, c.Amount, c.Unit, left, len(cands))}
}

// graceEndMs orders licenses by when they stop: a perpetual one (no end)
// last.
func graceEndMs(l *license.License) int64 {
	if g := l.GraceEnd(); !g.IsZero() {
		return g.UnixMilli()
	}
	return maxUnixMs + 1
}

// keepReceipt records r, dropping the collector's receipts older than
// receiptTTLms and, past maxReceipts, its oldest.
func (s *state) keepReceipt(r CreditReceipt) {
	mine := s.credits.receipts[r.Collector]
	if mine == nil {
		mine = map[string]CreditReceipt{}
		s.credits.receipts[r.Collector] = mine
	}
	for id, old := range mine {
		if old.At < r.At-receiptTTLms {
			delete(mine, id)
		}
	}
	if len(mine) >= maxReceipts {
		ids := slices.SortedFunc(maps.Keys(mine), func(a, b string) int {
			return cmp.Or(cmp.Compare(mine[a].At, mine[b].At), cmp.Compare(a, b))
		})
		for _, id := range ids[:len(mine)-maxReceipts+1] {
			delete(mine, id)
		}
	}
	mine[r.RequestID] = r
}

// dropCredits forgets the balance of licenses no longer stored.
func (s *state) dropCredits() {
	for id := range s.credits.consumed {
		if _, ok := s.licenses[id]; !ok {
			delete(s.credits.consumed, id)
		}
	}
}

// CreditReceipt returns the receipt of a consumption still remembered.
func (f *FSM) CreditReceipt(collector, requestID string) (CreditReceipt, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.credits.receipts[collector][requestID]
	return r, ok
}

// Credits returns the credit balance of every stored license that has
// credits, sorted by license ID.
func (f *FSM) Credits() []CreditBalance {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []CreditBalance
	for _, id := range f.st.licenseIDs() {
		if b, ok := f.st.balance(f.st.licenses[id].lic); ok {
			out = append(out, b)
		}
	}
	return out
}

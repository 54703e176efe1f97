package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/entitlement"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// ErrNoEntitlements means the collector has never received an entitlement
// document (it has not reached a master since it enrolled), so it cannot
// say what is licensed.
var ErrNoEntitlements = errors.New("agent: no entitlements received from the masters yet")

// entSilence is how long a stream may stay silent before the collector
// gives up on it and reconnects; masters re-send at least every minute by
// default.
const entSilence = 3 * time.Minute

// ents is the collector's entitlement document and the moment it arrived.
type ents struct {
	mu    sync.Mutex
	doc   *entitlement.Document
	token string
	// got is the collector's clock when the document arrived. With the
	// system clock it carries a monotonic reading, so time since then is
	// immune to the wall clock being set back.
	got    time.Time
	source string // "master" or "disk"
}

// trustedNow is the time entitlements are judged at: the local clock, but
// never earlier than the document's issue time plus the time elapsed since
// it arrived. Setting the host's clock back therefore extends nothing.
func (e *ents) trustedNow(now time.Time) time.Time {
	if e.doc == nil {
		return now
	}
	floor := e.doc.IssuedAt.Add(max(now.Sub(e.got), 0))
	if floor.After(now) {
		return floor
	}
	return now
}

// trustedAt is trustedNow for a caller that does not hold e.mu.
func (e *ents) trustedAt(now time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.trustedNow(now)
}

// loadEntitlements restores the document saved at the last start. It is
// judged from its issue time on: the monotonic reading is gone with the
// process.
func (a *Agent) loadEntitlements() {
	id := a.identity()
	if id == nil {
		return
	}
	tok, err := a.store.LoadEntitlements()
	if err != nil || tok == "" {
		if err != nil {
			a.log.Warn("collectord: ignoring the saved entitlements", "error", err)
		}
		return
	}
	doc, err := a.checkEntitlements(tok)
	if err != nil {
		a.log.Warn("collectord: ignoring the saved entitlements", "error", err)
		return
	}
	a.ents.mu.Lock()
	a.ents.doc, a.ents.token, a.ents.got, a.ents.source = doc, tok, doc.IssuedAt, "disk"
	a.ents.mu.Unlock()
}

// checkEntitlements verifies a document's signature with the cluster key
// and that it was issued to this collector by its cluster.
func (a *Agent) checkEntitlements(tok string) (*entitlement.Document, error) {
	id := a.identity()
	if id == nil {
		return nil, ErrNotReady
	}
	doc, err := entitlement.Verify(tok, id.SigningKey)
	if err != nil {
		return nil, err
	}
	if doc.CollectorID != string(id.CollectorID) || doc.ClusterID != id.ClusterID {
		return nil, fmt.Errorf("%w: issued to collector %q of cluster %q", entitlement.ErrWrongCollector, clip(doc.CollectorID, 64), clip(doc.ClusterID, 64))
	}
	return doc, nil
}

// acceptEntitlements takes a document from a master: verified, addressed
// to this collector and not older than the one held (a master lagging
// behind sends a lower serial). It is saved before it is used.
func (a *Agent) acceptEntitlements(tok string) error {
	doc, err := a.checkEntitlements(tok)
	if err != nil {
		return err
	}
	a.ents.mu.Lock()
	defer a.ents.mu.Unlock()
	if cur := a.ents.doc; cur != nil && doc.Serial < cur.Serial {
		return nil
	}
	changed := a.ents.token == "" || a.ents.doc.Serial != doc.Serial || a.ents.source != "master"
	if changed {
		if err := a.store.SaveEntitlements(tok); err != nil {
			a.log.Warn("collectord: could not save the entitlements", "error", err)
		}
	}
	a.ents.doc, a.ents.token, a.ents.got, a.ents.source = doc, tok, a.clock.Now(), "master"
	return nil
}

// watchEntitlements keeps a stream of entitlement documents open to one
// master after another until ctx ends.
func (a *Agent) watchEntitlements(ctx context.Context) {
	bo := a.newBackoff()
	for ctx.Err() == nil {
		tr := a.transport()
		got := false
		for _, addr := range a.masters.Snapshot() {
			if tr == nil || ctx.Err() != nil {
				break
			}
			n, err := a.watchOnce(ctx, newClient(tr, addr))
			got = got || n > 0
			if ctx.Err() != nil {
				return
			}
			if n > 0 {
				bo.Reset()
				break // the stream ended after working: start again from the preferred master
			}
			a.log.Debug("collectord: entitlement stream failed", "master", addr, "error", err)
		}
		if got {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(bo.Next()):
		}
	}
}

// watchOnce runs one stream and returns how many documents it delivered.
// A stream that brings nothing for RequestTimeout at first, or for
// entSilence later, is abandoned.
func (a *Agent) watchOnce(ctx context.Context, c licmeshv1connect.CollectorServiceClient) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.ents.mu.Lock()
	var have uint64
	if a.ents.doc != nil {
		have = a.ents.doc.Serial
	}
	a.ents.mu.Unlock()
	stream, err := c.WatchEntitlements(ctx, connect.NewRequest(&licmeshv1.WatchEntitlementsRequest{HaveSerial: have}))
	if err != nil {
		return 0, err
	}
	defer stream.Close()
	alive := make(chan struct{}, 1)
	go func() {
		wait := a.cfg.RequestTimeout
		for {
			select {
			case <-ctx.Done():
				return
			case <-alive:
				wait = entSilence
			case <-a.clock.After(wait):
				cancel()
				return
			}
		}
	}()
	n := 0
	for stream.Receive() {
		if err := a.acceptEntitlements(stream.Msg().GetDocument()); err != nil {
			a.log.Warn("collectord: refused an entitlement document", "error", err)
			return n, err
		}
		a.noteDocument()
		a.offerUpdate(stream.Msg().GetUpdate())
		n++
		select {
		case alive <- struct{}{}:
		default:
		}
	}
	return n, stream.Err()
}

// EntitlementStatus is one entitlement judged now.
type EntitlementStatus struct {
	entitlement.Entitlement
	Phase   entitlement.Phase `json:"phase"`
	InForce bool              `json:"in_force"`
}

// Entitlements is what the collector knows it is entitled to.
type Entitlements struct {
	// Serial and IssuedAt identify the document; Source says whether it
	// came from a master in this run or from disk at start.
	Serial   uint64    `json:"serial"`
	IssuedAt time.Time `json:"issued_at"`
	Source   string    `json:"source"`
	// JudgedAt is the trusted time the phases are judged at.
	JudgedAt     time.Time           `json:"judged_at"`
	Entitlements []EntitlementStatus `json:"entitlements"`
	// Document is the signed document, for a product that wants to check
	// it itself with the cluster's public key.
	Document string `json:"document"`
}

// Entitlements returns the entitlements judged at trusted time, or
// ErrNoEntitlements before the first document.
func (a *Agent) Entitlements() (Entitlements, error) {
	a.ents.mu.Lock()
	defer a.ents.mu.Unlock()
	d := a.ents.doc
	if d == nil {
		return Entitlements{}, ErrNoEntitlements
	}
	at := a.ents.trustedNow(a.clock.Now())
	out := Entitlements{Serial: d.Serial, IssuedAt: d.IssuedAt, Source: a.ents.source, JudgedAt: at.UTC(),
		Document: a.ents.token, Entitlements: make([]EntitlementStatus, 0, len(d.Entitlements))}
	for _, e := range d.Entitlements {
		out.Entitlements = append(out.Entitlements, EntitlementStatus{Entitlement: e, Phase: e.PhaseAt(at), InForce: e.InForce(at)})
	}
	return out, nil
}

// CheckFeature answers whether feature is on now, for the product with
// SKU sku if sku is not empty. It works from the saved document while
// every master is down, until the licenses' expiry plus grace.
func (a *Agent) CheckFeature(feature, sku string) (entitlement.Check, error) {
	a.ents.mu.Lock()
	defer a.ents.mu.Unlock()
	if a.ents.doc == nil {
		return entitlement.Check{}, ErrNoEntitlements
	}
	return a.ents.doc.Feature(feature, sku, a.ents.trustedNow(a.clock.Now())), nil
}

// CreditResult is the answer to a consumption of usage credits.
type CreditResult struct {
	License   string `json:"license_id"`
	Unit      string `json:"unit"`
	Amount    int64  `json:"amount"`
	Remaining int64  `json:"remaining"`
	Low       bool   `json:"low"`
}

// ConsumeCredits takes amount units of usage credits from the licenses in
// force. It needs a master: credits are a shared balance, so they are
// never spent offline. Every attempt, on every master, carries the same
// request ID, so a retry after a lost answer consumes nothing twice.
func (a *Agent) ConsumeCredits(ctx context.Context, unit string, amount int64) (CreditResult, error) {
	tr := a.transport()
	if tr == nil {
		return CreditResult{}, ErrNotReady
	}
	reqID := make([]byte, 16)
	_, _ = rand.Read(reqID)
	req := &licmeshv1.ConsumeCreditsRequest{RequestId: reqID, Unit: unit, Amount: amount}
	var out CreditResult
	err := a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, _ string) error {
		resp, err := c.ConsumeCredits(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		m := resp.Msg
		if m.LicenseId == "" || m.Remaining < 0 {
			return fmt.Errorf("%w: credits answer without a license or with a negative balance", ErrBadAnswer)
		}
		out = CreditResult{License: clip(m.LicenseId, 128), Unit: unit, Amount: amount, Remaining: m.Remaining, Low: m.Low}
		return nil
	})
	return out, err
}

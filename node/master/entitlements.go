package master

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/entitlement"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Entitlement streams.
const (
	// entPoll is how often a master looks for a change in what collectors
	// are entitled to. One poller serves every stream, so this costs one
	// lock-free read per tick however many collectors are connected, and
	// changes reach collectors within about this long plus a round trip.
	entPoll = 250 * time.Millisecond
	// entMaxStream ends a stream after this long; the collector reconnects,
	// perhaps to another master, which keeps load spread after failovers.
	entMaxStream = 30 * time.Minute
)

// entWatch tells entitlement streams that the FSM's entitlements may have
// changed: each change closes the current channel and makes a new one.
//
// A change wakes every stream at once. Building and signing a document is
// CPU work, and with ten thousand streams doing it together the master's
// one UDP socket went unread long enough for the kernel to drop the
// collectors' ACKs and requests, which QUIC then recovered by probing and
// resending, seconds later. building lets only a few streams build at a
// time; they send as they finish, so documents leave as fast as before and
// the socket's reader keeps up.
type entWatch struct {
	mu       sync.Mutex
	changed  chan struct{}
	building chan struct{}
}

func newEntWatch() *entWatch {
	return &entWatch{changed: make(chan struct{}), building: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

// wait returns a channel closed at the next change.
func (w *entWatch) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

func (w *entWatch) run(ctx context.Context, f *fsm.FSM) {
	t := time.NewTicker(entPoll)
	defer t.Stop()
	last := f.EntitlementsChanged()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := f.EntitlementsChanged(); now != last {
			last = now
			w.mu.Lock()
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
	}
}

// WatchEntitlements streams the collector's entitlement document: at once,
// on every change to what it is entitled to, and again every
// EntitlementRefresh so its idea of trusted time keeps up.
func (h collectorHandler) WatchEntitlements(ctx context.Context, _ *connect.Request[licmeshv1.WatchEntitlementsRequest], stream *connect.ServerStream[licmeshv1.WatchEntitlementsResponse]) error {
	id, err := h.caller(ctx)
	if err != nil {
		return err
	}
	s := h.s
	ctx, cancel := context.WithTimeout(ctx, entMaxStream)
	defer cancel()
	var lastSum [32]byte
	var lastSent time.Time
	var lastOrder string
	for {
		changed := s.ents.wait()
		select {
		case s.ents.building <- struct{}{}:
		case <-ctx.Done():
			return streamEnded(ctx)
		}
		msg, sum, orderKey, err := s.nextEntitlements(id, lastSent.IsZero() || time.Since(lastSent) >= s.cfg.EntitlementRefresh, lastSum, lastOrder)
		<-s.ents.building
		if err != nil {
			return toConnect(err)
		}
		if msg != nil {
			if err := stream.Send(msg); err != nil {
				return err
			}
			s.m.entSent.Inc()
			lastSum, lastSent, lastOrder = sum, time.Now(), orderKey
		}
		select {
		case <-ctx.Done():
			return streamEnded(ctx)
		case <-s.stopping.Done():
			return connect.NewError(connect.CodeUnavailable, ErrShuttingDown)
		case <-changed:
		case <-time.After(s.cfg.EntitlementRefresh - time.Since(lastSent)):
		}
	}
}

// streamEnded is a stream's end when its context ends: entMaxStream ends it
// cleanly (the collector reconnects), the collector going away does not.
func streamEnded(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return ctx.Err()
}

// nextEntitlements returns the message a stream sends now, or nil when
// nothing the collector acts on changed since the one it has (lastSum,
// lastOrder) and refresh is false, with what the message says.
func (s *Server) nextEntitlements(id string, refresh bool, lastSum [32]byte, lastOrder string) (_ *licmeshv1.WatchEntitlementsResponse, sum [32]byte, orderKey string, _ error) {
	doc, sum, err := s.entitlementDoc(id)
	if err != nil {
		return nil, sum, "", err
	}
	order := collectorOrder(s.fsm.CollectorOrder(id))
	orderKey = order.GetRolloutId() + "/" + order.GetAction() + "/" + order.GetVersion()
	if !refresh && sum == lastSum && orderKey == lastOrder {
		return nil, sum, orderKey, nil
	}
	// Signed only when sent: most wake-ups change nothing for this
	// collector.
	tok, err := s.signEntitlements(doc)
	if err != nil {
		return nil, sum, orderKey, err
	}
	return &licmeshv1.WatchEntitlementsResponse{Document: tok, Update: order}, sum, orderKey, nil
}

// entBaseMaxAge bounds how long a master reuses the entitlement base
// without a change, so refreshed documents carry a recent trusted time.
const entBaseMaxAge = time.Second

// entCache holds the entitlement base, built once per change (and at most
// once a second otherwise) for every stream: with thousands of collectors
// connected, a license change then costs one read of the state, not one
// per collector.
type entCache struct {
	mu    sync.Mutex
	base  fsm.EntitlementBase
	ok    bool
	built time.Time
}

func (s *Server) entitlementBase() (fsm.EntitlementBase, error) {
	c := &s.entCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || c.base.Changed != s.fsm.EntitlementsChanged() || time.Since(c.built) >= entBaseMaxAge {
		b, ok := s.fsm.EntitlementBase()
		if !ok {
			return fsm.EntitlementBase{}, ErrNotBootstrap
		}
		c.base, c.ok, c.built = b, true, time.Now()
	}
	return c.base, nil
}

// entitlementDoc builds the collector's document, unsigned. sum digests
// what it says apart from its serial and issue time, so streams send a
// new document only when something a collector acts on changed.
func (s *Server) entitlementDoc(collector string) (*entitlement.Document, [32]byte, error) {
	if _, ok := s.fsm.Collector(collector); !ok {
		return nil, [32]byte{}, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: collector %s is not enrolled", ErrNotCollector, collector))
	}
	base, err := s.entitlementBase()
	if err != nil {
		return nil, [32]byte{}, err
	}
	doc := &entitlement.Document{
		Format: entitlement.FormatVersion, ClusterID: base.ClusterID, CollectorID: collector,
		Serial: max(base.Index, 1), IssuedAt: time.UnixMilli(base.Trusted).UTC(),
	}
	for _, e := range base.For(collector) {
		doc.Entitlements = append(doc.Entitlements, entitledToDoc(e))
	}
	// The site's notice rules that bear on this document: the kinds' own,
	// and those of its licenses (a rule per license of a thousand would
	// not fit a document, and mean nothing to this collector).
	for _, r := range base.NoticeRules {
		if r.Subject == "" || slices.ContainsFunc(doc.Entitlements, func(e entitlement.Entitlement) bool { return e.License == r.Subject }) {
			doc.NoticeRules = append(doc.NoticeRules, r)
		}
	}
	body, err := json.Marshal(struct {
		E []entitlement.Entitlement
		N []alert.Rule
	}{doc.Entitlements, doc.NoticeRules})
	if err != nil {
		return nil, [32]byte{}, err
	}
	return doc, sha256.Sum256(body), nil
}

// signEntitlements signs a document with the cluster key.
func (s *Server) signEntitlements(doc *entitlement.Document) (string, error) {
	sg, err := s.signingKey()
	if err != nil {
		return "", err
	}
	return entitlement.Sign(doc, sg.priv)
}

func entitledToDoc(e fsm.Entitled) entitlement.Entitlement {
	out := entitlement.Entitlement{
		License: string(e.ID), Customer: e.Customer.Name,
		Product: entitlement.Product{SKU: string(e.Product.SKU), Name: e.Product.Name,
			Application: e.Product.Application, Version: e.Product.Version},
		Type: string(e.Type), NotBefore: e.NotBefore, ExpiresAt: e.ExpiresAt, GraceEnd: e.GraceEnd(),
		UpdatesUntil: e.UpdatesUntil(), Covered: e.Covered, Note: e.Note,
	}
	if end, ok := e.TrialEnd(); ok {
		out.TrialEnd = end
	}
	for _, f := range e.Features {
		if f.Enabled {
			out.Features = append(out.Features, f.Name)
		}
	}
	slices.Sort(out.Features)
	for _, g := range e.Grants {
		out.Pools = append(out.Pools, entitlement.Pool{Name: g.Name, Seats: g.Seats, Enforce: g.Enforce.String(), Overage: g.Overage,
			GraceMS: time.Duration(g.OfflineGrace).Milliseconds(), MaxBorrowMS: time.Duration(g.MaxBorrow).Milliseconds(), FailOpen: g.FailOpen})
	}
	if c := e.Credits; c != nil {
		out.Credits = &entitlement.Credits{Unit: c.Unit, Remaining: c.Remaining, Low: c.Low, Exhausted: c.Exhausted}
	}
	return out
}

// ConsumeCredits takes usage credits from the licenses in force, through
// Raft, and answers with the receipt the FSM kept: a retry of the same
// request ID gets the same receipt and consumes nothing more.
func (h collectorHandler) ConsumeCredits(ctx context.Context, req *connect.Request[licmeshv1.ConsumeCreditsRequest]) (*connect.Response[licmeshv1.ConsumeCreditsResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	s := h.s
	// The command's own validation (request ID, unit, amount) runs before
	// anything reaches Raft and answers InvalidArgument below.
	cmd := fsm.ConsumeCredits{Collector: id, RequestID: hex.EncodeToString(m.RequestId), Unit: m.Unit, Amount: m.Amount, Now: s.now().UnixMilli()}
	if _, err := s.apply(ctx, fsm.ConsumeCreditsType, cmd); err != nil {
		if errors.Is(err, fsm.ErrMalformed) {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		return nil, toConnect(err)
	}
	r, ok := s.fsm.CreditReceipt(id, cmd.RequestID)
	if !ok {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("master: credits consumed but the receipt is not visible here yet; retry with the same request id"))
	}
	s.m.creditsConsumed.WithLabelValues(r.Unit).Add(float64(r.Amount))
	return connect.NewResponse(&licmeshv1.ConsumeCreditsResponse{LicenseId: string(r.License), Remaining: r.Remaining, Low: r.Low}), nil
}

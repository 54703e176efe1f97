package fsm

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Procurement (issue 17, seed 003 "License Procurement"): a license
// manager asks for more seats of a pool or for a module; an admin approves
// or declines; an approved request goes to the vendor's hub with the daily
// check when the site is online (or as a file), and the vendor's answer
// comes back the same way. The pack the vendor sells arrives as any
// license does, through the daily check.

const (
	maxPurchases      = 10_000
	maxPurchaseText   = 500
	maxPurchaseAmount = 1_000_000
)

// Purchase states.
const (
	PurchaseRequested = "requested"
	PurchaseApproved  = "approved"
	PurchaseDeclined  = "declined"
	// PurchaseSent: the hub has the request.
	PurchaseSent = "sent"
	// PurchaseAnswered: the vendor answered (quoted, sold, declined).
	PurchaseAnswered = "answered"
)

// ErrPurchaseState means a command does not fit the request's state: an
// approval of one already decided, say.
var ErrPurchaseState = errors.New("fsm: the purchase request is not in a state for that")

// Purchase is one request for more seats or a module.
type Purchase struct {
	ID string
	// SKU is the product; Pool and Quantity the seats asked for, or
	// Module the feature.
	SKU      string
	Pool     string `json:",omitempty"`
	Quantity int    `json:",omitempty"`
	Module   string `json:",omitempty"`
	Reason   string `json:",omitempty"`

	State        string
	RequestedBy  string
	RequestedAt  int64
	DecidedBy    string `json:",omitempty"`
	DecidedAt    int64  `json:",omitempty"`
	DecisionNote string `json:",omitempty"`
	// SentAt is when the hub acknowledged it; Via is "online" or "file".
	SentAt int64  `json:",omitempty"`
	Via    string `json:",omitempty"`
	// The vendor's answer.
	AnsweredAt int64  `json:",omitempty"`
	Answer     string `json:",omitempty"`
}

// RequestPurchase files a request.
type RequestPurchase struct {
	Purchase Purchase
	Now      int64
}

// DecidePurchase approves or declines a request.
type DecidePurchase struct {
	ID      string
	Approve bool
	Note    string `json:",omitempty"`
	By      string
	Now     int64
}

// PurchaseProgress records that the hub took a request (Sent) or that the
// vendor answered it (Answer).
type PurchaseProgress struct {
	ID     string
	Sent   bool   `json:",omitempty"`
	Via    string `json:",omitempty"`
	Answer string `json:",omitempty"`
	Now    int64
}

func (RequestPurchase) msgType() MsgType  { return RequestPurchaseType }
func (DecidePurchase) msgType() MsgType   { return DecidePurchaseType }
func (PurchaseProgress) msgType() MsgType { return PurchaseProgressType }

func (c RequestPurchase) now() int64  { return c.Now }
func (c DecidePurchase) now() int64   { return c.Now }
func (c PurchaseProgress) now() int64 { return c.Now }

func (c RequestPurchase) validate() error {
	p := c.Purchase
	if err := firstErr(checkID("purchase id", p.ID), checkText("product sku", p.SKU, 128), checkText("requested by", p.RequestedBy, 128),
		checkOptText("pool", p.Pool, 128), checkOptText("module", p.Module, 128), checkOptText("reason", p.Reason, maxPurchaseText)); err != nil {
		return err
	}
	switch {
	case (p.Pool == "") == (p.Module == ""):
		return fmt.Errorf("%w: purchase %s: ask for seats of a pool or for a module, one of them", ErrMalformed, p.ID)
	case p.Pool != "" && (p.Quantity < 1 || p.Quantity > maxPurchaseAmount):
		return fmt.Errorf("%w: purchase %s: quantity %d, want 1 to %d", ErrMalformed, p.ID, p.Quantity, maxPurchaseAmount)
	case p.Module != "" && p.Quantity != 0:
		return fmt.Errorf("%w: purchase %s: a module has no quantity", ErrMalformed, p.ID)
	}
	return checkNow(c.Now)
}

func (c DecidePurchase) validate() error {
	return firstErr(checkID("purchase id", c.ID), checkOptText("note", c.Note, maxPurchaseText), checkText("by", c.By, 128), checkNow(c.Now))
}

func (c PurchaseProgress) validate() error {
	if c.Sent == (c.Answer != "") {
		return fmt.Errorf("%w: purchase %s: progress is sent or an answer, one of them", ErrMalformed, c.ID)
	}
	if c.Sent && c.Via != "online" && c.Via != "file" {
		return fmt.Errorf("%w: purchase %s: via %q, want online or file", ErrMalformed, c.ID, clip(c.Via))
	}
	return firstErr(checkID("purchase id", c.ID), checkOptText("answer", c.Answer, maxPurchaseText), checkNow(c.Now))
}

func applyRequestPurchase(s *state, ac *applyCtx, c *RequestPurchase) Response {
	if _, ok := s.purchases[c.Purchase.ID]; ok {
		return Response{Err: fmt.Errorf("%w: purchase %s exists", ErrPurchaseState, c.Purchase.ID)}
	}
	if len(s.purchases) >= maxPurchases {
		return Response{Err: fmt.Errorf("%w: at most %d purchase requests", ErrMalformed, maxPurchases)}
	}
	p := c.Purchase
	p.State, p.RequestedAt = PurchaseRequested, ac.at
	p.DecidedBy, p.DecidedAt, p.DecisionNote, p.SentAt, p.Via, p.AnsweredAt, p.Answer = "", 0, "", 0, "", 0, ""
	s.purchases[p.ID] = p
	return Response{}
}

func applyDecidePurchase(s *state, ac *applyCtx, c *DecidePurchase) Response {
	p, ok := s.purchases[c.ID]
	switch {
	case !ok:
		return Response{Err: fmt.Errorf("%w: no purchase request %s", ErrPurchaseState, c.ID)}
	case p.State != PurchaseRequested:
		return Response{Err: fmt.Errorf("%w: purchase %s is %s already", ErrPurchaseState, c.ID, p.State)}
	}
	p.State = PurchaseDeclined
	if c.Approve {
		p.State = PurchaseApproved
	}
	p.DecidedBy, p.DecidedAt, p.DecisionNote = c.By, ac.at, c.Note
	s.purchases[c.ID] = p
	return Response{}
}

func applyPurchaseProgress(s *state, ac *applyCtx, c *PurchaseProgress) Response {
	p, ok := s.purchases[c.ID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: no purchase request %s", ErrPurchaseState, c.ID)}
	}
	switch {
	case c.Sent && p.State == PurchaseApproved:
		p.State, p.SentAt, p.Via = PurchaseSent, ac.at, c.Via
	case c.Sent:
		return Response{} // sent again (a file carried after the hub had it online): nothing new
	case c.Answer != "" && (p.State == PurchaseSent || p.State == PurchaseAnswered):
		p.State, p.AnsweredAt, p.Answer = PurchaseAnswered, ac.at, c.Answer
	default:
		return Response{Err: fmt.Errorf("%w: purchase %s is %s, not sent", ErrPurchaseState, c.ID, p.State)}
	}
	s.purchases[c.ID] = p
	return Response{}
}

// Purchases returns the purchase requests, newest first.
func (f *FSM) Purchases() []Purchase {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := slices.Collect(maps.Values(f.st.purchases))
	slices.SortFunc(out, func(a, b Purchase) int {
		return cmp.Or(cmp.Compare(b.RequestedAt, a.RequestedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Snapshot record kind 34, after the costs' and counted with the alerts'
// in the end record: one purchase request, by ID.
const recPurchase byte = 34

func snapshotPurchases(ps map[string]Purchase) ([]snapRecord, error) {
	var out []snapRecord
	for _, k := range slices.Sorted(maps.Keys(ps)) {
		b, err := json.Marshal(ps[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: purchase: %w", err)
		}
		out = append(out, snapRecord{recPurchase, b})
	}
	return out, nil
}

func (rs *restorer) purchaseRecord(body []byte) error {
	var p Purchase
	if err := strictJSON(body, &p); err != nil {
		return badSnap("purchase: %v", err)
	}
	if err := (RequestPurchase{Purchase: p, Now: max(p.RequestedAt, 1)}).validate(); err != nil {
		return badSnap("purchase: %v", err)
	}
	switch p.State {
	case PurchaseRequested, PurchaseApproved, PurchaseDeclined, PurchaseSent, PurchaseAnswered:
	default:
		return badSnap("purchase %s: state %q", p.ID, clip(p.State))
	}
	if err := rs.ordered("purchase", p.ID); err != nil {
		return err
	}
	rs.st.purchases[p.ID] = p
	rs.counts[7]++
	return nil
}

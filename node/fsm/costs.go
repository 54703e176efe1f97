package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/licmesh/licmesh/licensing/license"
)

// Purchase records (issue 17, seed 003 "License Procurement"): what each
// license cost the site, who owns it, when it was bought. Reports spread a
// pool's monthly cost over the departments by their share of its use.
//
// Amounts are in minor units (cents) of one currency for the whole site,
// per month or per year, so that a month's cost is exact and reports never
// add euros to dollars.

const (
	maxCosts       = 10_000
	maxCostAmount  = 1_000_000_000_000 // ten billion in major units
	maxCostTextLen = 128
)

// ErrCurrency means a cost in another currency than the site's others.
var ErrCurrency = errors.New("fsm: another currency than the site's costs")

// LicenseCost is what a license cost and who owns it.
type LicenseCost struct {
	License string
	// Amount is in minor units of Currency (ISO 4217, e.g. EUR), per
	// Period: "month" or "year".
	Amount   int64
	Currency string
	Period   string
	// Owner is who pays: a person, a cost center.
	Owner       string `json:",omitempty"`
	PurchasedAt int64  `json:",omitempty"`
	Note        string `json:",omitempty"`
	UpdatedAt   int64
	UpdatedBy   string
}

// Monthly is the cost per month, in minor units.
func (c LicenseCost) Monthly() int64 {
	if c.Period == "year" {
		return c.Amount / 12
	}
	return c.Amount
}

// SetLicenseCost records a license's cost, or with Remove drops it.
type SetLicenseCost struct {
	Cost   LicenseCost
	Remove bool `json:",omitempty"`
	By     string
	Now    int64
}

func (SetLicenseCost) msgType() MsgType { return SetLicenseCostType }
func (c SetLicenseCost) now() int64     { return c.Now }

func (c SetLicenseCost) validate() error {
	x := c.Cost
	if err := checkText("license", x.License, maxCostTextLen); err != nil {
		return err
	}
	if !c.Remove {
		switch {
		case x.Amount < 0 || x.Amount > maxCostAmount:
			return fmt.Errorf("%w: cost of %s: amount %d out of range", ErrMalformed, clip(x.License), x.Amount)
		case len(x.Currency) != 3 || strings.ToUpper(x.Currency) != x.Currency || strings.Trim(x.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
			return fmt.Errorf("%w: cost of %s: currency %q, want an ISO 4217 code like EUR", ErrMalformed, clip(x.License), clip(x.Currency))
		case x.Period != "month" && x.Period != "year":
			return fmt.Errorf("%w: cost of %s: period %q, want month or year", ErrMalformed, clip(x.License), clip(x.Period))
		case x.PurchasedAt < 0:
			return fmt.Errorf("%w: cost of %s: purchase date", ErrMalformed, clip(x.License))
		}
		if err := firstErr(checkOptText("owner", x.Owner, maxCostTextLen), checkOptText("note", x.Note, 500)); err != nil {
			return err
		}
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func applySetLicenseCost(s *state, ac *applyCtx, c *SetLicenseCost) Response {
	x := c.Cost
	if c.Remove {
		if _, ok := s.costs[x.License]; !ok {
			return Response{Err: fmt.Errorf("%w: %s has no cost recorded", ErrUnknownLicense, clip(x.License))}
		}
		delete(s.costs, x.License)
		return Response{}
	}
	if _, ok := s.licenses[license.LicenseID(x.License)]; !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownLicense, clip(x.License))}
	}
	for id, other := range s.costs {
		if id != x.License && other.Currency != x.Currency {
			return Response{Err: fmt.Errorf("%w: the site's costs are in %s, not %s", ErrCurrency, other.Currency, x.Currency)}
		}
	}
	if _, ok := s.costs[x.License]; !ok && len(s.costs) >= maxCosts {
		return Response{Err: fmt.Errorf("%w: at most %d costs", ErrMalformed, maxCosts)}
	}
	x.UpdatedAt, x.UpdatedBy = ac.at, c.By
	s.costs[x.License] = x
	return Response{}
}

// Costs returns the recorded license costs, by license.
func (f *FSM) Costs() []LicenseCost {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []LicenseCost
	for _, k := range slices.Sorted(maps.Keys(f.st.costs)) {
		out = append(out, f.st.costs[k])
	}
	return out
}

// PoolCosts returns each pool's monthly cost in minor units, the sum of
// the costs of the licenses in force that grant it, and the currency.
func (f *FSM) PoolCosts() (map[string]int64, string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	out := map[string]int64{}
	currency := ""
	for id, c := range s.costs {
		rec, ok := s.licenses[license.LicenseID(id)]
		if !ok {
			continue
		}
		info := s.licenseInfo(rec)
		if !info.InForce {
			continue
		}
		currency = c.Currency
		n := len(info.Grants)
		for i, g := range info.Grants {
			// A license with several pools spreads its cost evenly; the
			// first pools take the remainder, so the sum is exact.
			share := c.Monthly() / int64(n)
			if int64(i) < c.Monthly()%int64(n) {
				share++
			}
			out[g.Name] += share
		}
	}
	return out, currency
}

// Snapshot record kind 33, after utilization's and counted with the
// alerts' in the end record: one license's cost.
const recLicenseCost byte = 33

func snapshotCosts(costs map[string]LicenseCost) ([]snapRecord, error) {
	var out []snapRecord
	for _, k := range slices.Sorted(maps.Keys(costs)) {
		b, err := json.Marshal(costs[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: cost: %w", err)
		}
		out = append(out, snapRecord{recLicenseCost, b})
	}
	return out, nil
}

func (rs *restorer) costRecord(body []byte) error {
	var c LicenseCost
	if err := strictJSON(body, &c); err != nil {
		return badSnap("cost: %v", err)
	}
	if err := (SetLicenseCost{Cost: c, By: max(c.UpdatedBy, "-"), Now: max(c.UpdatedAt, 1)}).validate(); err != nil {
		return badSnap("cost: %v", err)
	}
	if err := rs.ordered("cost", c.License); err != nil {
		return err
	}
	rs.st.costs[c.License] = c
	rs.counts[7]++
	return nil
}

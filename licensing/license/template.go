package license

import (
	"fmt"
	"strconv"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

// Bounds on what a license can grant.
const (
	// MaxSeats is the most seats (or allowed overage) one pool can have:
	// the lease package's bound, so that every pool a license grants can
	// be leased from.
	MaxSeats = lease.MaxSeats
	// MaxAmount is the largest allowance a pool can carry.
	MaxAmount = 1_000_000_000_000
	// MaxQuantity is the largest purchased quantity.
	MaxQuantity = 1_000_000
	// MaxEntries bounds each list in a payload (features, template
	// entries, pools, supersedes).
	MaxEntries = 256
)

// Pool is a seat pool a license grants: what a master turns into a lease
// pool.
type Pool struct {
	// Name is the license name from the product, like
	// "orektic__timehseetAdminUser"; it is what the product asks its
	// collector for. 1..64 bytes of [A-Za-z0-9._-].
	Name string `json:"name"`
	// Seats is how many holders may hold a lease at once, 0..MaxSeats.
	Seats int `json:"seats"`
	// Enforce is lease.Hard or lease.Soft, "hard" or "soft" in JSON.
	Enforce lease.Enforcement `json:"enforce"`
	// Overage is how many leases a hard pool may grant past Seats, each
	// recorded as an overage, before it refuses. It must be 0 for a soft
	// pool, which has no limit.
	Overage int `json:"overage,omitempty"`
	// Amount is an allowance the pool carries besides its seats: a count
	// of things that are not people, such as the number of projects for
	// "orektic__timehseetProjects". The product checks it like a counter;
	// masters do not lease it. 0 means the pool carries no allowance.
	Amount int64 `json:"amount,omitempty"`
	// Offline is what the pool allows while a collector cannot reach any
	// master (DESIGN P4, P8): none of it unless the vendor signed it.
	Offline
}

// Offline is a pool's terms for a collector cut off from its masters.
type Offline struct {
	// OfflineGrace is how long past its lease's end a held seat stays
	// valid for its holder while the collector reaches no master. Masters
	// count the seat as held that long after its last renewal, unless it
	// is released, so it is never granted twice; the cost is that a dead
	// collector's seats come back only after TTL + grace. 0..MaxOfflineGrace.
	OfflineGrace Duration `json:"offline_grace,omitzero"`
	// MaxBorrow is the longest a holder may borrow a seat for, to work
	// with no master at all (a laptop off site); 0 lends none.
	// 0..MaxBorrow.
	MaxBorrow Duration `json:"max_borrow,omitzero"`
	// FailOpen lets a collector that reaches no master admit a holder it
	// has no seat for; the masters count each such grant as overage once
	// they hear of it. Without it (the default) the collector refuses.
	FailOpen bool `json:"fail_open,omitempty"`
}

// Bounds of the offline terms. A grace is held against the pool by every
// seat of a collector that died; a borrow is a seat gone from the site.
const (
	MaxOfflineGrace = Duration(30 * day)
	MaxBorrow       = Duration(90 * day)
)

// check returns the first problem with o, with the field it is in.
func (o Offline) check() (field, problem string) {
	if o.OfflineGrace < 0 || o.OfflineGrace > MaxOfflineGrace {
		return "offline_grace", fmt.Sprintf("%s is out of range 0..%s", o.OfflineGrace, MaxOfflineGrace)
	}
	if time.Duration(o.OfflineGrace)%time.Second != 0 {
		return "offline_grace", fmt.Sprintf("%s is not whole seconds", o.OfflineGrace)
	}
	if o.MaxBorrow < 0 || o.MaxBorrow > MaxBorrow {
		return "max_borrow", fmt.Sprintf("%s is out of range 0..%s", o.MaxBorrow, MaxBorrow)
	}
	if time.Duration(o.MaxBorrow)%time.Second != 0 {
		return "max_borrow", fmt.Sprintf("%s is not whole seconds", o.MaxBorrow)
	}
	return "", ""
}

// LeasePool is the lease pool p makes on its own: its name, seats,
// enforcement and overage (Amount is not leased). A master adds up the
// grants of every license in force for one name (node/fsm); with one
// license, the pool it leases from is this one, admitted by
// lease.Pool.Admit.
func (p Pool) LeasePool() lease.Pool {
	return lease.Pool{Name: p.Name, Seats: p.Seats, Enforce: p.Enforce, Overage: p.Overage,
		Grace: time.Duration(p.OfflineGrace), MaxBorrow: time.Duration(p.MaxBorrow), FailOpen: p.FailOpen}
}

// check returns the first problem with p, with the field it is in.
func (p Pool) check() (field, problem string) {
	if pr := checkID(p.Name, MaxItemNameLen); pr != "" {
		return "name", pr
	}
	if p.Seats < 0 || p.Seats > MaxSeats {
		return "seats", fmt.Sprintf("%d is out of range 0..%d", p.Seats, MaxSeats)
	}
	switch {
	case p.Enforce == 0:
		return "enforce", "is missing; want hard or soft"
	case !p.Enforce.Valid():
		return "enforce", fmt.Sprintf("%s is neither hard nor soft", quote(p.Enforce.String()))
	}
	if p.Overage < 0 || p.Overage > MaxSeats {
		return "overage", fmt.Sprintf("%d is out of range 0..%d", p.Overage, MaxSeats)
	}
	if p.Overage > 0 && p.Enforce == lease.Soft {
		return "overage", "applies to hard pools only: a soft pool grants past its seats without limit"
	}
	if p.Amount < 0 || p.Amount > MaxAmount {
		return "amount", fmt.Sprintf("%d is out of range 0..%d", p.Amount, int64(MaxAmount))
	}
	if p.Seats == 0 && p.Amount == 0 {
		return "seats", "a pool with no seats and no amount grants nothing"
	}
	return p.Offline.check()
}

// Calculation says how a template value scales with the purchased
// quantity.
type Calculation string

// Calculations, spelled as in the product records of seed 002.
const (
	// Fixed takes the value as it is, whatever the quantity.
	Fixed Calculation = "fixed"
	// PerQty multiplies the value by the purchased quantity.
	PerQty Calculation = "per qty"
)

// TemplateEntry is one line of a product's license template (seed 002):
// a named pool whose seats and allowance are computed from the quantity
// bought.
//
//	{"name": "orektic__timehseetProjects", "users": 1, "users_calculation": "per qty",
//	 "amount": 5, "amount_calculation": "fixed"}
//
// Users is the number of seats: taken as is when UsersCalculation is
// "fixed" (or absent, as in seed 002's trial template), multiplied by the
// quantity when it is "per qty". Amount is the pool's allowance (see
// Pool.Amount), computed the same way from AmountCalculation. Seed 002
// leaves "amount" unexplained; it could also be read as a price, but a
// license carries no prices (billing is the hub's business) and the entry
// that has it, "...Projects", names a countable thing, so licmesh reads it
// as an allowance of that thing.
type TemplateEntry struct {
	Name              string      `json:"name"`
	Users             int         `json:"users,omitempty"`
	UsersCalculation  Calculation `json:"users_calculation,omitempty"`
	Amount            int64       `json:"amount,omitempty"`
	AmountCalculation Calculation `json:"amount_calculation,omitempty"`
	// Enforce is the pool's enforcement; absent (or "") means hard, since
	// seed 002's templates do not say and a hard limit is what was sold.
	Enforce lease.Enforcement `json:"enforce,omitempty"`
	// Overage is the pool's allowed overage, a fixed count.
	Overage int `json:"overage,omitempty"`
	// Offline is the pool's offline terms, as a Pool's.
	Offline
}

// EvaluateTemplate turns template entries into the pools they grant for a
// purchased quantity, in the entries' order. An empty template grants no
// pools. Errors are *FieldError with paths like "template[1].users".
func EvaluateTemplate(entries []TemplateEntry, quantity int) ([]Pool, error) {
	if quantity < 1 || quantity > MaxQuantity {
		return nil, fieldErr("quantity", fmt.Sprintf("%d is out of range 1..%d", quantity, MaxQuantity))
	}
	return evaluate(entries, quantity, "template")
}

func evaluate(entries []TemplateEntry, quantity int, path string) ([]Pool, error) {
	if len(entries) > MaxEntries {
		return nil, fieldErr(path, fmt.Sprintf("has %d entries, at most %d allowed", len(entries), MaxEntries))
	}
	if len(entries) == 0 {
		return nil, nil
	}
	pools := make([]Pool, 0, len(entries))
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		at := path + "[" + strconv.Itoa(i) + "]"
		if j, dup := seen[e.Name]; dup {
			return nil, fieldErr(at+".name", fmt.Sprintf("%s is also the name of %s[%d]", quote(e.Name), path, j))
		}
		seen[e.Name] = i
		p, field, problem := e.evaluate(quantity)
		if problem != "" {
			return nil, fieldErr(at+"."+field, problem)
		}
		pools = append(pools, p)
	}
	return pools, nil
}

func (e TemplateEntry) evaluate(quantity int) (p Pool, field, problem string) {
	if e.Users < 0 || e.Users > MaxSeats {
		return p, "users", fmt.Sprintf("%d is out of range 0..%d", e.Users, MaxSeats)
	}
	seats, problem := scale(int64(e.Users), e.UsersCalculation, quantity, MaxSeats, "users")
	if problem != "" {
		return p, "users_calculation", problem
	}
	if e.Amount < 0 || e.Amount > MaxAmount {
		return p, "amount", fmt.Sprintf("%d is out of range 0..%d", e.Amount, int64(MaxAmount))
	}
	if e.Amount == 0 && e.AmountCalculation != "" {
		return p, "amount_calculation", "is given but amount is not"
	}
	amount, problem := scale(e.Amount, e.AmountCalculation, quantity, MaxAmount, "amount")
	if problem != "" {
		return p, "amount_calculation", problem
	}
	if seats == 0 && amount == 0 {
		return p, "users", "an entry with no users and no amount grants nothing"
	}
	enforce := e.Enforce
	if enforce == 0 {
		enforce = lease.Hard
	}
	p = Pool{Name: e.Name, Seats: int(seats), Enforce: enforce, Overage: e.Overage, Amount: amount, Offline: e.Offline}
	field, problem = p.check()
	if field == "seats" {
		field = "users"
	}
	return p, field, problem
}

// scale applies calc to v for quantity, refusing results above max.
func scale(v int64, calc Calculation, quantity int, max int64, what string) (int64, string) {
	switch calc {
	case "", Fixed:
		return v, ""
	case PerQty:
		// Both factors are bounded (1e12 and 1e6), so the product fits.
		n := v * int64(quantity)
		if n > max {
			return 0, fmt.Sprintf("%s %d per qty × quantity %d = %d, more than %d", what, v, quantity, n, max)
		}
		return n, ""
	}
	return 0, fmt.Sprintf("%s is neither %q nor %q", quote(string(calc)), Fixed, PerQty)
}

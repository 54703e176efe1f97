package usage

import "slices"

// userRec is everything a month remembers about one user: flags that only
// ever go from false to true, the latest role evidence, and the union of the
// user's sessions. Every field is a join (or, max, union), which is what makes
// the month independent of observation order and immune to repeats.
type userRec struct {
	// seen means some evidence about the user comes from inside the month: a
	// snapshot taken in it or a session started in it.
	seen bool
	// super: had the super-user role at some time this month.
	super bool
	// locked: was locked at some time this month.
	locked bool
	// enabled: was enabled at some time this month.
	enabled bool
	// active: was logged on at some time this month.
	active bool
	// role is the role in the latest in-month evidence, at roleAt (Unix ns).
	role   Role
	roleAt int64
	// pre is the latest evidence from sessions that began before the month.
	// It stands for the user's state only when nothing inside the month
	// says anything about them (seen is false).
	pre preEvidence
	// spans are the user's sessions clipped to the month, from logons made
	// while not locked.
	spans spanSet
}

type preEvidence struct {
	ok     bool
	at     int64
	role   Role
	locked bool
}

// raise sets *p when v is true and reports whether *p changed.
func raise(p *bool, v bool) bool {
	if v && !*p {
		*p = true
		return true
	}
	return false
}

// noteRole keeps the latest role evidence; on a tie in time the lower Role
// value wins, an arbitrary but fixed rule so the result never depends on
// arrival order.
func (u *userRec) noteRole(at int64, r Role) bool {
	if u.role != 0 && (at < u.roleAt || (at == u.roleAt && r >= u.role)) {
		return false
	}
	u.role, u.roleAt = r, at
	return true
}

// notePre keeps the latest pre-month evidence; ties go to locked, then to
// the lower Role value.
func (u *userRec) notePre(p preEvidence) bool {
	q := u.pre
	if q.ok {
		switch {
		case p.at != q.at:
			if p.at < q.at {
				return false
			}
		case p.locked != q.locked:
			if !p.locked {
				return false
			}
		case p.role >= q.role:
			return false
		}
	}
	u.pre = p
	return true
}

// observeState folds in a snapshot taken inside the month.
func (u *userRec) observeState(s UserState) bool {
	ch := raise(&u.seen, true)
	ch = raise(&u.super, s.Role == RoleSuper) || ch
	ch = raise(&u.locked, s.Locked) || ch
	ch = raise(&u.enabled, s.Enabled) || ch
	return u.noteRole(s.At.UnixNano(), s.Role) || ch
}

// observeLogon folds in a session [st, en) that overlaps the month [ms, me)
// or starts inside it.
func (u *userRec) observeLogon(l Logon, st, en, ms, me int64) bool {
	ch := raise(&u.active, true)
	if st >= ms {
		// The role and lock at logon are evidence about this month.
		ch = raise(&u.seen, true) || ch
		ch = raise(&u.super, l.Role == RoleSuper) || ch
		ch = raise(&u.locked, l.Locked) || ch
		ch = u.noteRole(st, l.Role) || ch
	} else {
		ch = u.notePre(preEvidence{ok: true, at: st, role: l.Role, locked: l.Locked}) || ch
	}
	if !l.Locked {
		ch = u.spans.add(max(st, ms), min(en, me)) || ch
	}
	return ch
}

// merge folds o into u, as if o's observations had been applied to u.
func (u *userRec) merge(o *userRec) {
	u.seen = u.seen || o.seen
	u.super = u.super || o.super
	u.locked = u.locked || o.locked
	u.enabled = u.enabled || o.enabled
	u.active = u.active || o.active
	if o.role != 0 {
		u.noteRole(o.roleAt, o.role)
	}
	if o.pre.ok {
		u.notePre(o.pre)
	}
	u.spans.union(o.spans)
}

// userView is what of a user record can reach the metrics: classification,
// flags and sessions, without the evidence timestamps that every new sample
// moves.
type userView struct {
	super, locked, enabled, active bool
	role                           Role
}

func (u *userRec) view() userView {
	super, locked, role := u.classify()
	return userView{super: super, locked: locked, enabled: u.enabled, active: u.active, role: role}
}

// adds reports whether folding x into u would change anything the metrics
// can see, leaving u as it is.
func (u *userRec) adds(fold func(*userRec)) bool {
	c := u.clone()
	fold(c)
	return c.view() != u.view() || !slices.Equal(c.spans, u.spans)
}

func (u *userRec) clone() *userRec {
	c := *u
	c.spans = slices.Clone(u.spans)
	return &c
}

// classify returns what the user counts as this month. Evidence from inside
// the month decides; a user known only from a session that began last month
// keeps the role and lock they logged on with.
func (u *userRec) classify() (super, locked bool, role Role) {
	if u.seen {
		return u.super, u.locked, u.role
	}
	return u.pre.role == RoleSuper, u.pre.locked, u.pre.role
}

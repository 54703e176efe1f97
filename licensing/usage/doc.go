// Package usage turns what a collector observes on an installation into the
// monthly subscriber metrics of seed 004 (super users, enabled and active
// staff, managers and reps, concurrent maximum, logon minutes, file limit,
// commission items, process fields) and seed 000's user and case counts.
//
// Observations are samples: user snapshots (UserState), logon sessions
// (Logon) and installation facts (Facts). A Month accumulates them for one
// installation and one calendar month in the site's time zone; a Ledger
// routes them to months, closes each month at its end and keeps anything
// that arrives for a closed month as a late arrival beside it, never inside
// it (promise P3: a closed month's metrics never change).
//
// Every accumulator is a join of per-user flags, maxima and interval unions,
// so the metrics do not depend on the order observations arrive in, and a
// repeated observation changes nothing. State grows with distinct users (and
// their disjoint sessions), not with the number of samples.
//
// # Seed 004's rules as implemented
//
// A user counts in at most one user metric. A user locked at any time in the
// month counts in none ("never locked during the month"; "When an admin
// locks a staff user, that removes them from any metric"; "lock them
// (removing them from all counts)"); this holds for managers and reps too.
// Otherwise a user with the super-user role at any time in the month counts
// as Super and nowhere else, whatever happens after (demoted, disabled,
// trashed, purged), enabled or not. Otherwise the user counts by the role of
// the latest evidence in the month: Enabled if enabled in any snapshot of
// the month, Active if logged on in the month (a session open when the month
// began counts). Trash is ignored ("All metrics include users in the trash").
//
// Concurrency and minutes count every role, super users included ("of any
// type"), and leave out only sessions begun while the user was locked ("The
// locked status of the user is counted as what it was when they logged
// on"). A user with overlapping sessions is one user logged on. Sessions are
// split at the month's bounds in the site's zone; minutes are elapsed time
// (DST-correct), summed over users and rounded down once per month. The
// concurrent maximum's time is the first instant it was reached.
//
// File limit and seed 000's maxima are the month's highest samples;
// commission items, process fields (total less trash) and seed 000's latest
// counts come from the month's latest Facts, 0 for a module that is off in
// it.
//
// Samples also carry named scalars: FactsFromScalars makes Facts of the
// well-known ones, and DayStats keeps a day's samples count and each
// scalar's min, max, sum and latest value, for views and for checking that
// what a collector sent was counted once.
//
// The package is pure and deterministic so that it can run inside the
// masters' Raft FSM: it reads no clock (times are passed in), uses no
// randomness or I/O, keeps no package-level state, and never lets map order
// reach an output or a snapshot. Time zones are passed in as *time.Location;
// the caller must make sure every master loads the same zone data (for
// example by importing time/tzdata), because month bounds come from it.
//
// Month and Ledger are not safe for concurrent mutation; concurrent reads
// with no writer are safe (no read caches anything).
package usage

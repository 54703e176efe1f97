// Package dashboard is the masters' web dashboard: server-rendered pages
// (html/template) for the cluster, its collectors, seat pools, leases and
// licenses (with expiry alerts above every page and a box to paste one), and
// seed 004's usage metrics ("Subscriber metrics", a month's installations,
// and "Metrics history", an installation's months, each downloadable as an
// Excel workbook), and the cluster's link to its vendor's hub (activation in
// a dialog that needs no script, the trial button, the sync and the daily
// license check), served on a master's HTTPS port under a prefix (by default
// /ui).
//
// Every page's table refreshes itself with htmx, which is vendored and
// embedded along with the templates and the stylesheet, so a build never
// needs npm and the pages run under a strict Content-Security-Policy (no
// inline scripts or styles). A fragment endpoint renders the same template
// as the table inside its full page.
//
// Operators sign in by pasting an admin token; the token is checked once
// through Config.Auth and never stored: the session cookie carries only the
// principal and an expiry, signed with Config.SessionKey. Every POST form
// carries a CSRF token derived from the session (or, for the sign-in form,
// from a short-lived double-submit cookie).
//
// The live data come from a Source, a small interface the master implements.
package dashboard

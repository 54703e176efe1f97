// Package agent is the collector agent: it enrolls with the masters using a
// join token, keeps its short-lived client certificate renewed, holds seat
// leases for the product's holders and renews them at a third of their TTL,
// fails over between masters with jittered backoff, keeps leases valid while
// no master answers until each lease's own end on the monotonic clock, and
// validates every answer a master gives: a wrong answer is an error from that
// master, never a crash and never a change to the leases it holds.
//
// An Agent is created with New and runs with Run, which owns every goroutine
// and returns when its context ends. Acquire, Release, Leases, Verify and
// Status are safe to call from any goroutine, also before Run; the local API
// (package localapi) is a thin HTTP layer over them.
//
// Shutdown: with release_on_shutdown (the default) a clean stop releases every
// held lease, bounded by request_timeout, so seats return to the pool at once.
// Without it the leases stay with the masters until they lapse, and a restarted
// collector renews them as long as they are still valid (they are not kept on
// disk, so a restart forgets them: the masters expire them).
//
// Updates: the masters' rollout sends each collector its order with every
// entitlement document. A goroutine of Run's carries orders out one at a time,
// never in the way of leases: it downloads the build for this platform from a
// master (GET /v1/artifacts/<sha256> over the same mutual TLS), stages and
// checks it, leaves a marker (update.pending in data_dir), swaps it in and
// makes Run return ErrRestart without releasing anything; the caller restarts
// the process (package mesh/selfupdate). The next start reads the marker: on
// the new version it runs a trial (a document from a master, Options.Healthy,
// update_health_command) and reports success, or puts the previous binary
// back and restarts into it, which then reports the failure. Each order is
// handled once per process and answered with ReportUpdate, unless
// updates_managed is off: then orders are only logged.
package agent

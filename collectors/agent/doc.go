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
package agent

// Package fsm is the masters' replicated state machine: the cluster's
// identity and keys, vendor licenses, seat pools and their leases, join and
// admin tokens, and enrolled collectors.
//
// Every change is a command in the Raft log: one message-type byte from an
// append-only enum (see MsgType; IgnoreUnknownTypeFlag lets old nodes skip
// optional commands) followed by the command as strict JSON. Encode and
// Decode are the only codec; the FSM keeps a table of one apply function
// per message type.
//
// Apply is deterministic: no clock, randomness or I/O. Times and IDs travel
// in the command (every command carries the leader's Now, in Unix ms) or
// derive from the Raft index (a lease's ID is index<<16 | op position, its
// fencing token the index). The highest Now applied is the cluster's trusted
// time.
//
// Results: for each command entry, Apply returns a Response. Response.Err is
// set when the command was refused as a whole (malformed, or a business rule
// such as ErrPoolExists), and then nothing changed, trusted time included.
// A LeaseBatch is applied operation by operation; each gets an OpResult.
//
// Licenses: AddLicense carries a license's armoured text, whose vendor
// signature the master checked before proposing (vendor keys are each
// master's configuration, not replicated state). The FSM parses it with
// the licensing/license package, never checks the signature, and stores
// the canonical text. A renewal (same subscription and customer, issued
// later) or a license listing others in supersedes replaces them in the
// same step; the refusals are listed on applyAddLicense.
//
// Pools are derived: each pool's seats come from the licenses in force at
// trusted time (their pools add up; see state.targets for the precedence
// over manual pools and what happens at expiry), recomputed whenever a
// license or manual pool changes and whenever trusted time crosses a
// license's not_before, trial end, expiry or grace end. A license grants
// its trial template's pools during its trial, its license template's (or
// explicit pools) after, and from expiry through grace the pools it had
// just before. Derivation never touches a held lease: a pool that shrinks
// below its leases, expires (SourceExpired) or loses its license
// (SourceNone) grants nothing new, and its leases stay until released or
// expired. Trusted time only moves forward, so a leader whose clock was set
// back revives nothing.
//
// Usage: a UsageBatch carries records from a collector's spool (the
// master sets the collector from its verified certificate). Per collector
// the FSM keeps the spool epoch and the high-water sequence, so a retry,
// a replay or a stale spool's batch applies nothing twice (promise P2), and
// folds each new sample into the monthly ledger of licensing/usage and into
// per-day aggregates, both cut in the site's zone (SetSiteZone; UTC until
// set, fixed once usage is recorded; zone data is built in). Months close
// when trusted time passes their end, whatever command moves it; data for a
// closed month is kept beside it as a late arrival.
//
// Reads (Cluster, Pools, Leases, ...) take a read lock and return copies;
// they may be called from any goroutine, at any time.
//
// Snapshot is cheap: the lease table is split into copy-on-write shards that
// a snapshot shares, so Persist streams a consistent point-in-time view
// while applies continue. Restore reads the stream into a new state and
// swaps it in only if the whole stream checks out.
package fsm

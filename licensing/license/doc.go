// Package license is the vendor license of licmesh: its signed envelope, its
// model (products, license types, features, templates, seat pools, usage
// credits, cluster binding) and the rules that judge it against trusted time.
//
// A license is a JSON payload (Payload) signed by a vendor key. Seal signs the
// payload's exact bytes with Ed25519 and armours them as text that survives
// copy and paste; Open parses that text back into an Envelope, and
// Envelope.Verify checks it against the vendor keys a master trusts
// (Keyring), the master's cluster ID and trusted time, returning a License.
// Every refusal wraps one sentinel from errors.go with a detail naming the
// key, field, date or cluster at fault.
//
// Time is always a parameter. TrustedNow, Tampered and Status implement
// promise P7: validity is judged against the later of the local clock and
// the replicated high-water mark, so setting a clock back extends nothing.
//
// The package is pure: the standard library and licensing/lease only (whose
// Enforcement and admission rule the pools a license grants share), no
// package-level mutable state, no I/O beyond the io.Reader it is handed. docs/licenses.md
// describes the format and the model with an example.
package license

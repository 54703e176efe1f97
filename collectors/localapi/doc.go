// Package localapi is the collector's HTTP API for the product on the same
// host, served on a loopback TCP address and a unix socket (mode 0660):
//
//	POST   /v1/leases        {"pool","holder"}  acquire a seat, returns the lease
//	GET    /v1/leases                           list leases with their validity
//	GET    /v1/leases/{id}                      one lease
//	DELETE /v1/leases/{id}                      release a lease
//	POST   /v1/verify        {"token"}          verify a lease token offline
//	GET    /v1/status                           the collector's state
//	GET    /v1/entitlements                     the signed entitlements, judged now
//	GET    /v1/features/{name}[?product=SKU]    is this module on? (works offline)
//	POST   /v1/credits/consume {"unit","amount"} spend usage credits (needs a master)
//	GET    /healthz, /readyz                    liveness, readiness
//
// It never blocks the product for long: every request is bounded by the
// request timeout, bodies by a few KiB, and requests beyond a fixed number in
// flight are refused at once with 503. Bad JSON, unknown fields and invalid
// values get 400 with a message naming the problem. Errors are
// {"error": "...", "code": "..."}.
package localapi

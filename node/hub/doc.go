// Package hub is the vendor hub (hubd): the vendor's products and license
// templates, its customers and resellers, the licenses and trials it signs,
// the accounts and roles of the people who use it, and the customer
// portal. It serves one HubService API (mesh/wire, ConnectRPC, usable with
// curl in JSON) and server-rendered pages over HTTPS, and keeps everything
// in node/hub/store (embedded SQLite, or PostgreSQL).
//
// Every request is authenticated (an API key, or a signed-in session with
// CSRF protection) and authorized by role before it touches the store;
// every change is audited in the transaction that makes it.
package hub

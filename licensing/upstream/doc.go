// Package upstream is what a site and its vendor's hub say to each other,
// as signed documents that mean the same whether they travel online or in
// a file carried by hand:
//
//   - a Batch is usage a cluster owes the hub: the months and days that
//     changed since the batch before it, signed with the cluster's key and
//     chained to that batch by hash, so the hub can tell a lost, repeated,
//     reordered or edited batch from the next one;
//   - an Export is a file of batches for a site with no internet;
//   - a Receipt is the hub's signed word that it holds a cluster's batches
//     up to one, which lets the site drop them;
//   - an ActivationRequest introduces a cluster (its ID and public key) to
//     the hub, and a Proof shows a registered cluster is asking.
//
// Batches carry the state of each period, never increments: applying one
// twice, or an older state after a newer one, cannot count anything twice.
// The package is pure: no I/O, no clock; times are given.
package upstream
